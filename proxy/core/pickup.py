"""Picking up a call on a shared line: a delegate's phone takes over the call its
delegator put on hold, or one ringing on the line, as shared-line phones do it
(RFC 3891, RFC 7463 §5, RFC 5359 §2.12).

Two requests mean a pick-up:

1. An INVITE with ``Replaces`` (RFC 3891) that names a dialog on a user's line,
   built from the busy-lamp NOTIFY (RFC 4235: call-id, local and remote tags):
   a held dialog (``pickup_held_calls``), or the early dialog of a call ringing
   on the line (directed pick-up, ``answer_calls``: the caller replaces its own
   early dialog, RFC 3891 §3, and CANCELs the ringing INVITE). One that carries
   ``Referred-By`` is a transfer acting on a REFER (RFC 3892) and one naming a
   dialog on no user's line is none of our business: both are routed as before.
2. An INVITE from the line to the line itself (the From or P-Preferred-Identity
   names the line called): the "seize the held call" key of a shared-line phone.
   The proxy picks the one held dialog and writes the ``Replaces`` itself.

Either way the INVITE goes to the held party (the far side of the held dialog,
at its Contact, down the flow it called from), which swaps the line's phone for
the picking one and ends the old dialog with a BYE (RFC 3891 §3). Pure: the line
state is asked through :class:`LineDialogs`, which the dialog tracker answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from proxy.core.flows import flow_hop, flow_uri
from proxy.policy.directory import Directory, Privilege
from proxy.policy.placing import refusal_to_act
from proxy.policy.plan import Target, TargetRole
from proxy.policy.trust import Source
from proxy.sip.address import address_user
from proxy.sip.errors import SipParseError
from proxy.sip.message import Request, set_header
from proxy.sip.replaces import Replaces, parse_replaces
from proxy.sip.uri import uri_user

# The refusals' name in the statistics (``refused_pickup``).
PICKUP_REFUSAL = "pickup"


@dataclass(frozen=True, slots=True)
class LineDialog:
    """A dialog of a call on a user's line, seen from the line: the tag of the
    line's phone, the far party's tag, where the far party is reached (its
    Contact and, for a phone behind a NAT, the flow it called from; '' for none),
    whether the line's side holds it (confirmed) or it rings the line (early)."""

    call_id: str
    line: str  # normalised
    owner: str
    line_tag: str
    far_tag: str
    far_target: str | None
    far_flow: str
    held: bool
    ringing: bool = False

    @property
    def replaces(self) -> Replaces:
        """The dialog as the far party (who receives the INVITE) names it (§3)."""
        return Replaces(self.call_id, to_tag=self.far_tag, from_tag=self.line_tag)


class LineDialogs(Protocol):
    """The line state a pick-up needs (``proxy.dialog.DialogTracker``)."""

    def dialogs_on(self, line: str) -> tuple[LineDialog, ...]:
        """The dialogs of the calls on ``line`` that could be picked up."""
        ...

    def dialogs_of(self, call_id: str) -> tuple[LineDialog, ...]:
        """The dialogs of the call ``call_id`` that could be picked up, once per
        user's line it is on."""
        ...


@dataclass(frozen=True, slots=True)
class Pickup:
    """``by`` takes the call ``call_id`` held (or ringing) on ``line`` (owned by
    ``owner``): the INVITE replaces the dialog ``replaces`` and goes to
    ``target``, the far party. ``seized``: the proxy chose the dialog and adds
    the Replaces header."""

    call_id: str
    line: str
    owner: str
    by: str
    replaces: Replaces
    target: Target
    seized: bool

    def applied_to(self, request: Request) -> Request:
        """The INVITE as it goes to the held party: a seize gets the Replaces
        (and ``Require: replaces``, RFC 3891 §6.1, so a phone that cannot replace
        refuses it with 420 instead of ringing as a second call)."""
        if not self.seized:
            return request
        headers = set_header(request.headers, "Replaces", self.replaces.header_value())
        required = request.header_values("require")
        if "replaces" not in (value.lower() for value in required):
            headers = set_header(headers, "Require", ", ".join([*required, "replaces"]))
        return request.with_headers(headers)


@dataclass(frozen=True, slots=True)
class PickupRefused:
    """The pick-up may not happen: answer ``status`` with ``reason``."""

    status: int
    reason: str


def pickup_for(request: Request, source: Source, directory: Directory,
               dialogs: LineDialogs) -> Pickup | PickupRefused | None:
    """The pick-up an initial INVITE from a user's phone asks for, the refusal, or
    None when it asks for none (an ordinary call, routed as before)."""
    user = source.user
    if request.method != "INVITE" or user is None:
        return None
    replaces = request.header("replaces")
    if replaces is not None:
        return _replacing(replaces, request, user, directory, dialogs)
    line = _seized_line(request, directory)
    return None if line is None else _seizing(line, user, directory, dialogs)


def _replacing(value: str, request: Request, user: str, directory: Directory,
               dialogs: LineDialogs) -> Pickup | PickupRefused | None:
    """An INVITE with Replaces naming a dialog on a user's line."""
    try:
        named = parse_replaces(value)
    except SipParseError as error:
        return PickupRefused(400, f"Bad Request ({error.reason})")
    # The tags say from which line the dialog is named: the far party's tag is
    # the recipient's own (to-tag), the line's phone is its peer (from-tag).
    found = [dialog for dialog in dialogs.dialogs_of(named.call_id)
             if (dialog.far_tag, dialog.line_tag) == (named.to_tag, named.from_tag)]
    if not found:
        return None
    dialog = found[0]
    if not dialog.held and not dialog.ringing and request.header("referred-by") is not None:
        # RFC 3892: a transferee acting on a REFER replaces a call in progress (the
        # transferor's consultation call). Taking a held or ringing call is a pick-up
        # whatever the request says of itself: Referred-By is the sender's word.
        return None
    privilege = Privilege.ANSWER_CALLS if dialog.ringing else Privilege.PICKUP_HELD_CALLS
    refusal = _refusal(user, dialog.owner, directory, privilege)
    if refusal is not None:
        return refusal
    if not dialog.held and not dialog.ringing:
        return PickupRefused(481, "Call/Transaction Does Not Exist (the call on line"
                                  f" {dialog.line} is not on hold)")
    return _pickup(dialog, user, seized=False)


def _seizing(line: str, user: str, directory: Directory,
             dialogs: LineDialogs) -> Pickup | PickupRefused:
    """An INVITE from the line to itself: the one held call on it."""
    owner = directory.line_owner(line)
    assert owner is not None  # _seized_line found it
    refusal = _refusal(user, owner.id, directory, Privilege.PICKUP_HELD_CALLS)
    if refusal is not None:
        return refusal
    held = [dialog for dialog in dialogs.dialogs_on(line) if dialog.held]
    if not held:
        return PickupRefused(481, f"Call/Transaction Does Not Exist (no call is on hold"
                                  f" on line {line})")
    if len(held) > 1:
        return PickupRefused(481, f"Call/Transaction Does Not Exist ({len(held)} calls are"
                                  f" on hold on line {line}: pick one up by its Replaces)")
    return _pickup(held[0], user, seized=True)


def _refusal(user: str, owner: str, directory: Directory,
             privilege: Privilege) -> PickupRefused | None:
    refusal = refusal_to_act(directory, user, owner, privilege, PICKUP_REFUSAL)
    return None if refusal is None else PickupRefused(403, f"Forbidden ({refusal.reason})")


def _pickup(dialog: LineDialog, user: str, *, seized: bool) -> Pickup | PickupRefused:
    if dialog.far_target is None:
        return PickupRefused(481, "Call/Transaction Does Not Exist (the far party's"
                                  " Contact is not known)")
    flow = flow_hop(dialog.far_flow) if dialog.far_flow else None
    # RFC 5626 §5.3: a phone behind a NAT is reached down the flow it called from.
    target = Target(dialog.far_target, TargetRole.ROUTE,
                    next_hop=flow_uri(flow) if flow is not None else None)
    return Pickup(dialog.call_id, dialog.line, dialog.owner, user, dialog.replaces, target,
                  seized)


def _seized_line(request: Request, directory: Directory) -> str | None:
    """The line an INVITE seizes: the line called when the phone calls from it (the
    P-Preferred-Identity, else the From, names it, RFC 3325 §9.2), else None."""
    called = uri_user(request.uri) or address_user(request.header("to"))
    preferred = request.header_values("p-preferred-identity")
    calling = address_user(preferred[0] if preferred else request.header("from"))
    if called is None or calling is None or directory.line_owner(called) is None:
        return None
    line = directory.normalize(called)
    return line if directory.normalize(calling) == line else None
