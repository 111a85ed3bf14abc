"""What a forwarded INVITE carries because of why its target is rung.

- Delegates see whose call it is: the original called line in History-Info
  (RFC 7044) and a display-name prefix such as ``[VIP] ``.
- Voicemail finds the shared mailbox: History-Info plus Diversion (RFC 5806),
  which Asterisk and FreeSWITCH voicemail dialplans read.
- An untrusted P-Asserted-Identity is removed (RFC 3325 §5).
- A call an authenticated phone places on a line shows that line: the From names
  the line and its owner, P-Preferred-Identity is removed, and a gateway (a
  trusted peer) gets the line as P-Asserted-Identity (RFC 3325 §9).
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

from proxy.core.diversion import Diversion
from proxy.policy.decision import Decision
from proxy.policy.plan import Target, TargetRole
from proxy.sip.address import NameAddr, address_tag, parse_name_addr
from proxy.sip.errors import SipParseError
from proxy.sip.message import Request, remove_header, set_header, set_header_lines
from proxy.sip.uri import SipUri, parse_uri, sip_uri_or_none, uri_user


def decorate_for_target(
    request: Request,
    target: Target,
    *,
    original_uri: str,
    diversion: Diversion | None,
    strip_asserted_identity: bool,
    calling_identity: NameAddr | None = None,
) -> Request:
    """Return ``request`` as it should reach ``target`` (before Via/Record-Route).

    ``diversion`` is set when the call is diverted (``proxy.core.diversion``);
    ``calling_identity`` when the caller placed it on a line (``calling_identity``).
    """
    headers = request.headers
    if strip_asserted_identity and request.has_header("P-Asserted-Identity"):
        headers = remove_header(headers, "P-Asserted-Identity")
    if calling_identity is not None:
        request = request.with_headers(_on_line(headers, request, target, calling_identity))
        headers = request.headers
    if target.display_prefix:
        from_value = request.header("from")
        if from_value is not None:
            headers = set_header(headers, "From", _prefixed(from_value, target.display_prefix))
    # One entry a line, not one comma-joined line: RFC 3261 §7.3.1 makes the two
    # equal, but Asterisk's res_pjsip_diversion parses each History-Info line as
    # one entry, and it looks for the diverted-to entry among the lines.
    if target.role is TargetRole.DELEGATE or diversion is not None:
        entries = _history_info(request, original_uri, target.uri, diversion)
        headers = set_header_lines(headers, "History-Info", entries)
    if diversion is not None:
        # A diverted call (voicemail, a fallback): RFC 5806 for the PBXs that read it,
        # ours on top of any the call already carried: the latest diversion comes first.
        ours = _diversion(original_uri, diversion.reason)
        headers = set_header_lines(
            headers, "Diversion", [ours, *request.header_values("diversion")]
        )
    return request.with_headers(headers)


def calling_identity(request: Request, decision: Decision | None) -> NameAddr | None:
    """The line an authenticated phone places the call on, as the callee sees the
    caller: the owner's name and the From's URI with the line as its user (a tel:
    URI when the From is not a SIP URI); None when no line was verified."""
    placing = decision.placing if decision is not None else None
    if placing is None or not placing.verified:
        return None
    try:
        caller = parse_name_addr(request.header("from") or "")
    except SipParseError:
        caller = None
    uri = sip_uri_or_none(caller.uri) if caller is not None else None
    line_uri = (f"tel:{placing.line}" if uri is None
                else str(replace(uri, user=placing.line, password=None, params=(), headers="")))
    return NameAddr(placing.owner_name, line_uri)


def _on_line(headers: tuple[tuple[str, str], ...], request: Request, target: Target,
             identity: NameAddr) -> tuple[tuple[str, str], ...]:
    """The From of the line (with the caller's tag, RFC 3261 §8.1.1.3), no
    P-Preferred-Identity (RFC 3325 §9.2: it is a request to this proxy), and for a
    gateway, a trusted peer, the line asserted (RFC 3325 §9.1)."""
    tag = address_tag(request.header("from"))
    headers = remove_header(headers, "P-Preferred-Identity")
    headers = set_header(headers, "From", str(identity.with_param("tag", tag) if tag else identity))
    if target.role is TargetRole.GATEWAY:
        headers = set_header(headers, "P-Asserted-Identity", str(identity))
    return headers


def _prefixed(from_value: str, prefix: str) -> str:
    try:
        address = parse_name_addr(from_value)
    except SipParseError:
        return from_value
    shown = address.display_name or uri_user(address.uri) or ""
    return str(address.with_display_name(f"{prefix}{shown}"))


def _history_info(
    request: Request, original_uri: str, target_uri: str, diversion: Diversion | None
) -> list[str]:
    """RFC 7044 §9: the entries before ours, then ours indexed below the last one.

    Without earlier entries: index 1 is the called line as received, 1.1 the new
    target, ``mp=1`` because the call was mapped to another user (§4.3.3.1.2).
    A diversion's cause is written twice, as RFC 7544 does: as the Reason of the
    entry that was left (RFC 7044: the response that made the request leave it)
    and as RFC 4458's ``cause`` URI parameter of the mailbox's entry, which is
    what Asterisk reads when a request has History-Info and no Diversion.
    """
    existing = request.header_values("history-info")
    target = target_uri if diversion is None else _with_cause(target_uri, diversion.cause)
    if not existing:
        called = original_uri
        if diversion is not None:
            reason = quote(f"SIP;cause={diversion.cause}", safe="")
            called = f"{original_uri}{'&' if '?' in original_uri else '?'}Reason={reason}"
        return [f"<{called}>;index=1", f"<{target}>;index=1.1;mp=1"]
    last_index = _index_of(existing[-1]) or "1"
    return [*existing, f"<{target}>;index={last_index}.1;mp={last_index}"]


def _with_cause(uri: str, cause: int) -> str:
    """RFC 4458: ``sip:vm-alice@pbx;cause=486``, before any URI headers."""
    try:
        parsed = parse_uri(uri)
    except SipParseError:
        return uri
    return str(parsed.with_param("cause", str(cause))) if isinstance(parsed, SipUri) else uri


def _index_of(entry: str) -> str | None:
    try:
        return parse_name_addr(entry).param("index")
    except SipParseError:
        return None


def _diversion(original_uri: str, reason: str) -> str:
    """RFC 5806 §4: ``Diversion: <sip:line@host>;reason=no-answer;counter=1``."""
    uri = original_uri
    try:
        parsed = parse_uri(original_uri)
    except SipParseError:
        parsed = None
    if isinstance(parsed, SipUri):
        # Only the line itself: URI parameters of the Request-URI are not a mailbox.
        uri = str(replace(parsed, password=None, params=(), headers=""))
    return f"<{uri}>;reason={reason};counter=1;privacy=off"
