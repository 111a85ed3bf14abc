"""The registrar: REGISTER processing over an in-memory location table (RFC 3261 §10.3).

Pure decision code (ARCHITECTURE, "Services"): a request, where it came from, who
authenticated it and the time in; a reply and the bindings to save and delete out.
The location table lives here, in memory; the composition root writes the changes
behind to the store and loads them back at start (``restore``).

Time is wall-clock Unix seconds, passed in: bindings outlive the process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import assert_never
from urllib.parse import unquote

from proxy.core.services import ALLOW, Reply
from proxy.defaults import (
    REGISTER_DEFAULT_EXPIRES,
    REGISTER_MAX_CONTACTS,
    REGISTER_MAX_EXPIRES,
    REGISTER_MIN_EXPIRES,
)
from proxy.policy.directory import Directory, User
from proxy.registrar.bindings import Binding, Received, ranked
from proxy.registrar.contacts import (
    Query,
    Refusal,
    RemoveAll,
    Requested,
    RequestedContact,
    read_contacts,
    same_uri,
)
from proxy.registrar.outbound import OPTION_TAG as OUTBOUND
from proxy.registrar.outbound import Outbound, outbound_of
from proxy.sip.address import parse_name_addr
from proxy.sip.errors import SipParseError
from proxy.sip.message import Header, Request
from proxy.sip.uri import SipUri, TelUri, parse_uri, sip_uri_or_none, uri_scheme

# Option tags a REGISTER may Require (RFC 3261 §8.2.2.3): Path is stored and
# returned (RFC 3327 §5.3); outbound flows are kept and confirmed (RFC 5626 §6).
SUPPORTED_OPTIONS = frozenset({"path", OUTBOUND})
# RFC 3261 §10.3 step 7 note: 423 only for an interval shorter than an hour.
_ONE_HOUR = 3600


@dataclass(frozen=True, slots=True)
class RegistrarSettings:
    """The registrar's domain, intervals (seconds) and bindings per address of record.

    ``domain`` is the host of every canonical AOR (``sip:alice@domain``); when the
    configuration names no domain, pass the proxy's first address. ``own_hosts``
    are the proxy's addresses as written in URIs (IPv6 in brackets), accepted as
    the host of an AOR as well.
    """

    domain: str
    own_hosts: frozenset[str] = frozenset()
    min_expires: int = REGISTER_MIN_EXPIRES
    max_expires: int = REGISTER_MAX_EXPIRES
    default_expires: int = REGISTER_DEFAULT_EXPIRES
    max_contacts: int = REGISTER_MAX_CONTACTS
    _hosts: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.min_expires <= self.default_expires <= self.max_expires:
            raise ValueError("registrar intervals must satisfy "
                             "0 <= min_expires <= default_expires <= max_expires")
        if self.max_contacts < 1:
            raise ValueError("max_contacts must be 1 or more")
        hosts = frozenset(host.lower() for host in {self.domain, *self.own_hosts})
        object.__setattr__(self, "_hosts", hosts)

    def serves(self, host: str) -> bool:
        """True for the domain and the proxy's own addresses (hosts compare caselessly)."""
        return host.lower() in self._hosts


@dataclass(frozen=True, slots=True)
class RegistrarResult:
    """The reply to a REGISTER and what changed, for the store to write behind:
    ``saved`` to upsert by ``(aor, contact)``, ``removed`` to delete."""

    reply: Reply
    saved: tuple[Binding, ...] = ()
    removed: tuple[Binding, ...] = ()


@dataclass(frozen=True, slots=True)
class Add:
    binding: Binding


@dataclass(frozen=True, slots=True)
class Update:
    old: Binding
    new: Binding  # another contact URI when an RFC 5626 instance re-registered


@dataclass(frozen=True, slots=True)
class Remove:
    old: Binding


Change = Add | Update | Remove


class Registrar:
    """The location service of one domain: address of record -> bindings."""

    __slots__ = ("_directory", "_settings", "_table")

    def __init__(self, directory: Directory, settings: RegistrarSettings) -> None:
        self._directory = directory
        self._settings = settings
        self._table: dict[str, dict[str, Binding]] = {}  # aor -> contact -> binding

    def __len__(self) -> int:
        """Bindings held (some may have expired and not been dropped yet)."""
        return sum(len(bindings) for bindings in self._table.values())

    def use_directory(self, directory: Directory) -> None:
        """A reloaded directory: REGISTERs are judged by it from now on. Bindings
        in place stay until they expire or are removed, as after any change."""
        self._directory = directory

    # --- REGISTER (§10.3) --------------------------------------------------------

    def register(self, request: Request, received: Received, user: str,
                 now: float) -> RegistrarResult:
        """Process a REGISTER that ``user`` (a user id) authenticated (§10.3 steps 3-4
        are the caller's). All of its binding changes happen, or none (step 7)."""
        aor = self._address_of_record(request, user)
        if isinstance(aor, Refusal):
            return RegistrarResult(_reply(aor))
        requested = read_contacts(request, self._settings.default_expires)
        if isinstance(requested, Refusal):
            return RegistrarResult(_reply(requested))
        outbound = outbound_of(request, requested, received)
        if isinstance(outbound, Refusal):
            return RegistrarResult(_reply(outbound))
        stale = tuple(self._drop_expired(aor, now))
        changes = self._changes(aor, requested, request, received, now)
        if isinstance(changes, Refusal):
            return RegistrarResult(_reply(changes), removed=stale)
        saved, removed = self._apply(aor, changes)
        return RegistrarResult(self._ok(aor, request, now, outbound), saved, stale + removed)

    def _address_of_record(self, request: Request, user: str) -> str | Refusal:
        """Steps 1-5: the request is ours to process, and its To names an AOR the
        authenticated ``user`` may change. Returns the canonical AOR."""
        if request.method != "REGISTER":
            return Refusal(405, "Method Not Allowed (the registrar takes REGISTER only)",
                           (("Allow", ALLOW),))
        # Step 2 (§8.2.2.3): an extension we do not support is refused.
        unsupported = [tag for tag in request.header_values("require")
                       if tag.lower() not in SUPPORTED_OPTIONS]
        if unsupported:
            return Refusal(420, "Bad Extension", (("Unsupported", ", ".join(unsupported)),))
        # Step 1: the Request-URI names the domain whose bindings we keep.
        request_uri = sip_uri_or_none(request.uri)
        if request_uri is None or not self._settings.serves(request_uri.host):
            return Refusal(404, f"Not Found (this registrar serves {self._settings.domain})")
        owner = self._to_owner(request)
        if isinstance(owner, Refusal):
            return owner
        # Step 4: only the owner may change the bindings of an address of record. The
        # same answer whether or not the address is somebody's: a user learns nothing
        # of the others by registering their names.
        if owner is None or owner.id != user:
            return Refusal(403, f"Forbidden ({user} may register only their own address)")
        if not owner.registered:
            return Refusal(403, f"Forbidden ({owner.id}'s endpoints do not include registered)")
        return self.aor_of(owner.id)

    def _to_owner(self, request: Request) -> User | Refusal | None:
        """Step 5: the To URI is ``sip:USER@DOMAIN``, USER a user id or one of the
        user's lines (any formatting), else None; a To that is no AOR of this
        domain at all gets 404."""
        to = request.header("to") or ""
        try:
            uri = parse_uri(parse_name_addr(to).uri)
        except SipParseError as error:
            return Refusal(400, f"Bad Request (To: {error.reason})")
        if not isinstance(uri, SipUri) or uri.user is None or not self._settings.serves(
                uri.host):
            return Refusal(404, f"Not Found ({to[:60]} is not an address of record here)")
        return self._user_named(unquote(uri.user))

    def _changes(self, aor: str, requested: Requested, request: Request, received: Received,
                 now: float) -> list[Change] | Refusal:
        current = list(self._table.get(aor, {}).values())
        match requested:
            case Query():
                return []
            case RemoveAll():
                return _remove_all(current, request)
            case tuple() as contacts:
                too_brief = self._too_brief(contacts)
                if too_brief is not None:
                    return too_brief
                return self._contact_changes(aor, contacts, current, request, received, now)
            case _:
                assert_never(requested)

    def _too_brief(self, contacts: tuple[RequestedContact, ...]) -> Refusal | None:
        """Step 7 note: an interval above zero, below an hour and below the minimum
        gets 423 with Min-Expires (§20.23); the UA retries with the minimum."""
        minimum = self._settings.min_expires
        if any(0 < contact.expires < min(minimum, _ONE_HOUR) for contact in contacts):
            return Refusal(423, f"Interval Too Brief (at least {minimum} s)",
                           (("Min-Expires", str(minimum)),))
        return None

    def _contact_changes(self, aor: str, contacts: tuple[RequestedContact, ...],
                         current: list[Binding], request: Request, received: Received,
                         now: float) -> list[Change] | Refusal:
        """Step 7, for each Contact: add, refresh or remove its binding."""
        changes: list[Change] = []
        touched: set[str] = set()
        for contact in contacts:
            existing = _matching(current, contact)
            if existing is not None:
                if existing.contact in touched:
                    return Refusal(400, "Bad Request (two Contacts change the same binding)")
                touched.add(existing.contact)
                out_of_order = _out_of_order(existing, request)
                if out_of_order is not None:
                    return out_of_order
            if contact.expires == 0:
                if existing is not None:
                    changes.append(Remove(existing))
                continue
            binding = self._binding(aor, contact, request, received, now)
            changes.append(Add(binding) if existing is None else Update(existing, binding))
        return self._within_limit(changes, current, now)

    def _within_limit(self, changes: list[Change], current: list[Binding],
                      now: float) -> list[Change] | Refusal:
        """At most ``max_contacts`` bindings per address of record, so that one phone
        cannot grow the table (and every call's fork) without end. The oldest other
        bindings make room, as a phone that moved leaves one behind until it expires
        (Asterisk's ``remove_existing``); a REGISTER asking for more alone is refused."""
        limit = self._settings.max_contacts
        kept = {binding.contact: binding for binding in current if not binding.expired(now)}
        asked: set[str] = set()
        for change in changes:
            match change:
                case Add(binding):
                    kept[binding.contact] = binding
                    asked.add(binding.contact)
                case Update(old, new):
                    kept.pop(old.contact, None)
                    kept[new.contact] = new
                    asked.add(new.contact)
                case Remove(old):
                    kept.pop(old.contact, None)
                case _:
                    assert_never(change)
        excess = len(kept) - limit
        if excess <= 0:
            return changes
        if len(asked) > limit:
            return Refusal(403, f"Forbidden (at most {limit} contacts per address of record)")
        oldest = sorted((binding for contact, binding in kept.items() if contact not in asked),
                        key=lambda binding: binding.updated_at)[:excess]
        return [*changes, *(Remove(binding) for binding in oldest)]

    def _binding(self, aor: str, contact: RequestedContact, request: Request,
                 received: Received, now: float) -> Binding:
        # Step 7: the registrar MAY shorten the interval; it never lengthens it.
        expires = min(contact.expires, self._settings.max_expires)
        return Binding(
            aor=aor,
            contact=contact.uri,
            expires_at=now + expires,
            call_id=request.call_id,
            cseq=request.cseq[0],
            received=received,
            updated_at=now,
            q=contact.q,
            instance_id=contact.instance_id,
            reg_id=contact.reg_id,
            path=tuple(request.header_values("path")),  # RFC 3327 §5.3
            user_agent=request.header("user-agent"),
        )

    def _apply(self, aor: str, changes: list[Change]) -> tuple[tuple[Binding, ...],
                                                               tuple[Binding, ...]]:
        """Commit every change (step 7: all or nothing, decided before this point)."""
        bindings = self._table.setdefault(aor, {})
        saved: list[Binding] = []
        removed: list[Binding] = []
        for change in changes:
            match change:
                case Add(binding):
                    bindings[binding.contact] = binding
                    saved.append(binding)
                case Update(old, new):
                    if old.contact != new.contact:
                        del bindings[old.contact]
                        removed.append(old)
                    bindings[new.contact] = new
                    saved.append(new)
                case Remove(old):
                    del bindings[old.contact]
                    removed.append(old)
                case _:
                    assert_never(change)
        if not bindings:
            del self._table[aor]
        return tuple(saved), tuple(removed)

    def _ok(self, aor: str, request: Request, now: float, outbound: Outbound | None) -> Reply:
        """Step 8: 200 listing every current binding with its remaining interval,
        the Path of the request (RFC 3327 §5.3), a Date (§20.17) and, for outbound,
        Require and Flow-Timer (RFC 5626 §5.4, §6)."""
        headers: list[Header] = [("Contact", binding.contact_header(now))
                                 for binding in self.bindings_for(aor, now)]
        headers += [("Path", line) for line in request.header_lines("path")]
        headers.append(("Date", sip_date(now)))
        if outbound is not None:
            headers += outbound.headers()
        return Reply(200, "OK", tuple(headers))

    # --- the location table ----------------------------------------------------

    def aor_of(self, user_id: str) -> str:
        """The canonical address of record of a user: ``sip:ID@DOMAIN``."""
        return f"sip:{user_id}@{self._settings.domain}"

    def bindings_for(self, who: str, now: float) -> list[Binding]:
        """The unexpired bindings of an AOR (any form: ``sip:1000@domain``), a user id
        or a line number, highest q first, then the most recently updated."""
        owner = self._owner_of(who)
        if owner is None:
            return []
        bindings = self._table.get(self.aor_of(owner.id), {}).values()
        return ranked([binding for binding in bindings if not binding.expired(now)])

    def expire(self, now: float) -> list[Binding]:
        """Remove and return every binding whose interval has run out."""
        removed: list[Binding] = []
        for aor in list(self._table):
            removed += self._drop_expired(aor, now)
        return removed

    def next_expiry(self) -> float | None:
        """When the next binding runs out (for the caller's timer), None without any."""
        return min((binding.expires_at for bindings in self._table.values()
                    for binding in bindings.values()), default=None)

    def reload(self, bindings: Iterable[Binding], now: float, kept_since: float) -> None:
        """Take the location table from the store that several proxies share: every
        binding there, plus this proxy's own changes since ``kept_since`` (still on
        their way to the database); other proxies' removals take effect here."""
        recent = [binding for bindings_of in self._table.values()
                  for binding in bindings_of.values() if binding.updated_at >= kept_since]
        self._table = {}
        self.restore([*bindings, *recent], now)

    def restore(self, bindings: Iterable[Binding], now: float) -> list[Binding]:
        """Load bindings kept by the store. Returns those not loaded, for the caller
        to delete: expired ones, and those whose AOR is no longer a registering
        user's canonical AOR (a user removed, the domain changed)."""
        dropped: list[Binding] = []
        for binding in bindings:
            if binding.expired(now) or not self._is_current_aor(binding.aor):
                dropped.append(binding)
                continue
            self._table.setdefault(binding.aor, {})[binding.contact] = binding
        return dropped

    def _drop_expired(self, aor: str, now: float) -> list[Binding]:
        bindings = self._table.get(aor, {})
        expired = [binding for binding in bindings.values() if binding.expired(now)]
        for binding in expired:
            del bindings[binding.contact]
        if not bindings:
            self._table.pop(aor, None)
        return expired

    def _is_current_aor(self, aor: str) -> bool:
        owner = self._owner_of(aor)
        return owner is not None and owner.registered and self.aor_of(owner.id) == aor

    def _owner_of(self, who: str) -> User | None:
        """The user named by an AOR or Request-URI of ours, a user id or a line."""
        if uri_scheme(who) is None:
            return self._user_named(who)
        try:
            uri = parse_uri(who)
        except SipParseError:
            return None
        match uri:
            case TelUri(number):
                return self._directory.line_owner(number)
            case SipUri() if uri.user is not None and self._settings.serves(uri.host):
                return self._user_named(unquote(uri.user))
            case SipUri():
                return None
            case _:
                assert_never(uri)

    def _user_named(self, name: str) -> User | None:
        """A user id first, then a line number normalised as the directory does."""
        return self._directory.users.get(name) or self._directory.line_owner(name)


def _matching(current: list[Binding], contact: RequestedContact) -> Binding | None:
    """The binding a Contact refers to (step 7): by instance and reg-id when it has
    both (RFC 5626 §6, whatever its URI now is), else by URI (§19.1.4)."""
    if contact.reg_id is not None:
        for binding in current:
            if (binding.instance_id, binding.reg_id) == (contact.instance_id, contact.reg_id):
                return binding
    for binding in current:
        stored = sip_uri_or_none(binding.contact)
        if stored is not None and same_uri(stored, contact.parsed):
            return binding
    return None


def _out_of_order(binding: Binding, request: Request) -> Refusal | None:
    """Step 7: the same Call-ID with a CSeq not above the binding's is an old or
    repeated REGISTER; the update is aborted and the request fails.

    The RFC answers 500 here. This proxy keeps 500 for its own faults: the request
    is at fault, so it gets 400 with the reason (as Kamailio's registrar does).
    """
    cseq = request.cseq[0]
    if request.call_id == binding.call_id and cseq <= binding.cseq:
        return Refusal(400, f"Bad Request (out-of-order REGISTER: CSeq {cseq} is not above "
                            f"{binding.cseq} for this Call-ID)")
    return None


def _remove_all(current: list[Binding], request: Request) -> list[Change] | Refusal:
    """Step 6, ``Contact: *``: every binding goes, unless one of them was updated by a
    later request of the same Call-ID (then nothing does)."""
    for binding in current:
        out_of_order = _out_of_order(binding, request)
        if out_of_order is not None:
            return out_of_order
    return [Remove(binding) for binding in current]


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def sip_date(now: float) -> str:
    """``now`` (Unix seconds) as a Date value: RFC 1123 in GMT (RFC 3261 §20.17).

    Spelled out rather than ``strftime``, whose day and month names follow the locale.
    """
    moment = datetime.fromtimestamp(now, UTC)
    return (f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} "
            f"{moment.year} {moment:%H:%M:%S} GMT")


def _reply(refusal: Refusal) -> Reply:
    return Reply(refusal.status, refusal.reason, refusal.headers)
