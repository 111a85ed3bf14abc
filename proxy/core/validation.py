"""Request validation before a proxy acts on a request (RFC 3261 §16.3, RFC 5393)."""

from __future__ import annotations

from dataclasses import dataclass

from proxy.core.branch import BranchFactory, loop_hash
from proxy.core.local import LocalAddresses
from proxy.sip.errors import SipParseError
from proxy.sip.message import Header, Request
from proxy.sip.uri import parse_uri
from proxy.sip.via import parse_via


@dataclass(frozen=True, slots=True)
class Rejection:
    """The answer to a request the proxy will not forward."""

    status: int
    reason: str
    extra_headers: tuple[Header, ...] = ()


def validate_request(request: Request, local: LocalAddresses) -> Rejection | None:
    """§16.3 steps 2-5: URI scheme, Max-Forwards, loop detection, Proxy-Require."""
    try:
        parse_uri(request.uri)
    except SipParseError as error:
        return Rejection(416, error.reason)
    # The parser has checked Max-Forwards is 0-255 (§20.22).
    if request.max_forwards == 0:
        # §16.3 step 3 (an OPTIONS for the proxy itself could be answered, but a
        # request that ran out of hops is the useful signal to send back).
        return Rejection(483, "Too Many Hops")
    if _is_loop(request, local):
        return Rejection(482, "Loop Detected")
    proxy_require = request.header_values("proxy-require")
    if proxy_require:
        # §16.3 step 5: this proxy supports no option tags.
        return Rejection(
            420, "Bad Extension", (("Unsupported", ", ".join(proxy_require)),)
        )
    return None


def _is_loop(request: Request, local: LocalAddresses) -> bool:
    """§16.3 step 4: one of our own Vias with the branch this request would get again."""
    current: str | None = None
    for value in request.header_values("via"):
        if not local.may_name_us(value):
            continue  # most Vias are other hops': no need to parse them
        try:
            via = parse_via(value)
        except SipParseError:
            continue
        if not local.is_local_host_port(via.host, via.port):
            continue
        seen = BranchFactory.loop_hash_of(via.branch or "")
        if seen is None:
            continue
        current = current or loop_hash(request)
        if seen == current:
            return True
    return False


def split_breadth(request: Request, branch_count: int, default: int) -> int | None:
    """RFC 5393 §5: share the Max-Breadth among parallel branches.

    Returns the Max-Breadth each branch carries, or None when the request does
    not allow that many parallel branches (answer 440).
    """
    values = request.header_values("max-breadth")
    given = values[0] if values else ""
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    breadth = int(given) if given.isascii() and given.isdigit() else default
    if branch_count > breadth:
        return None
    return breadth // max(branch_count, 1)



