"""The Replaces header (RFC 3891 §6.1): ``Replaces: call-id;to-tag=T;from-tag=F``.

It names a dialog from the point of view of the UA that receives the INVITE
carrying it (§3): ``to-tag`` is that UA's own (local) tag, ``from-tag`` the tag of
its peer in the dialog being replaced.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.sip.errors import SipParseError
from proxy.sip.params import find_param, parse_params


@dataclass(frozen=True, slots=True)
class Replaces:
    """The dialog an INVITE replaces: its Call-ID, the recipient's tag
    (``to_tag``) and its peer's (``from_tag``); ``early_only`` (§6.1) refuses a
    confirmed dialog."""

    call_id: str
    to_tag: str
    from_tag: str
    early_only: bool = False

    def header_value(self) -> str:
        flag = ";early-only" if self.early_only else ""
        return f"{self.call_id};to-tag={self.to_tag};from-tag={self.from_tag}{flag}"


def parse_replaces(value: str) -> Replaces:
    """Parse a Replaces header value; :class:`SipParseError` when the Call-ID or a
    tag is missing (§6.1: both tags are mandatory)."""
    call_id, _, rest = value.strip().partition(";")
    params = parse_params(rest) if rest else ()
    to_tag, from_tag = find_param(params, "to-tag"), find_param(params, "from-tag")
    if not call_id.strip() or not to_tag or not from_tag:
        raise SipParseError(f"Malformed Replaces: {value.strip()[:60]!r}", status_hint=400)
    return Replaces(call_id.strip(), to_tag, from_tag, find_param(params, "early-only") is not None)
