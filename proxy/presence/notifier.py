"""The busy-lamp notifier: subscriptions to the dialogs of users' lines (RFC 6665
§4.2 with the dialog package of RFC 4235).

Pure (ARCHITECTURE, "Services"): a SUBSCRIBE, a line change, a NOTIFY's final
response or the time in; a reply and actions out (NOTIFYs to send, subscriptions
that started or ended). Whoever runs it sends the NOTIFYs and reports their
answers. Time is wall-clock seconds, passed in.

Who may watch: the user who owns the line and the delegates who accepted that
user's delegation, authenticated. Everyone else gets 403.

Each subscription has at most one NOTIFY in flight, and after its answer rests
for the rest of the minimum interval (``PresenceSettings.notify_min_interval``,
``machine``): changes meanwhile are merged into the NOTIFY that follows, and the
delay of a change is measured from the oldest change not yet sent.

A NOTIFY carries the full state at the moment it is built, plus the dialogs that
ended since the one before. On a busy line (more than ``LAMP_FULL_STATE_MAX_CALLS``
calls) every NOTIFY after the first carries only the calls that changed since
the one before (RFC 4235 §4.1, partial state), so its size does not grow with the
line. Each subscription has at most one NOTIFY in flight (``machine``), so the
documents arrive in the order of their versions. Line changes are noted as they come and turned into
NOTIFYs by ``flush``, so all the changes one message makes leave as one NOTIFY.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from proxy.core.local import LocalAddresses
from proxy.core.routing import has_to_tag
from proxy.core.services import Reply
from proxy.defaults import DRAINING_RETRY_AFTER, LAMP_FULL_STATE_MAX_CALLS
from proxy.dialog.views import LineChange
from proxy.policy.directory import DelegationStatus, Directory, User
from proxy.policy.trust import Source
from proxy.presence.dialog_info import dialog_xml, full_state_of, partial_state
from proxy.presence.line_log import LineLog, Since
from proxy.presence.machine import (
    IN_FLIGHT,
    Step,
    SubscriptionAction,
    SubscriptionInput,
    next_step,
)
from proxy.presence.requests import (
    ALLOW_EVENTS,
    PACKAGE,
    PresenceSettings,
    accepts_dialog_info,
    granted_expires,
    subscriber_target,
)
from proxy.presence.shown import LineSource, ShownDialog, ShownLine
from proxy.presence.subscription import DialogKey, Peer, Subscription
from proxy.sip.address import address_tag, parse_name_addr
from proxy.sip.errors import SipParseError
from proxy.sip.event import Event, request_event
from proxy.sip.hop import Hop, hop_for_uri
from proxy.sip.message import Request
from proxy.sip.uri import SipUri, parse_uri, sip_uri_or_none

# RFC 6665 §4.1.3 reasons of ``Subscription-State: terminated``.
TIMEOUT = "timeout"  # expired, or ended by the subscriber (Expires: 0)
DEACTIVATED = "deactivated"  # the proxy stops: subscribe again at once
# The placeholder of a line with no dialog to show.
IDLE_DIALOG_ID = "idle"
# A line's log is trimmed to what its slowest watcher lacks once it is this long.
LOG_TRIM_AT = 256



NO_SUBSCRIPTION = Reply(481, "Call/Transaction Does Not Exist (no such subscription)")


@dataclass(frozen=True, slots=True)
class SendNotify:
    """Send ``request`` to ``hop`` and report its final response (``answered``).
    ``changed_at`` is when the oldest line change it carries happened, if any."""

    key: DialogKey
    request: Request
    hop: Hop
    changed_at: float | None


@dataclass(frozen=True, slots=True)
class RestUntil:
    """Call ``rested`` with ``key`` and ``cseq`` at ``until`` (wall-clock seconds):
    the minimum interval after the NOTIFY numbered ``cseq`` is then over. A later
    NOTIFY makes the call stale (the generation of ARCHITECTURE principle 5)."""

    key: DialogKey
    until: float
    cseq: int


@dataclass(frozen=True, slots=True)
class SubscriptionStarted:
    key: DialogKey
    watcher: str
    entity: str
    expires: int


@dataclass(frozen=True, slots=True)
class SubscriptionEnded:
    key: DialogKey
    watcher: str
    entity: str
    reason: str


Action = SendNotify | RestUntil | SubscriptionStarted | SubscriptionEnded


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to a SUBSCRIBE, and what to do once it is sent (the first NOTIFY
    follows the 200)."""

    reply: Reply
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True, slots=True)
class _Watched:
    entity: str
    owner: User
    lines: tuple[str, ...]
    user_part: str  # as written in the Request-URI, for our Contact


@dataclass(frozen=True, slots=True)
class _Admitted:
    """A new subscription that may start."""

    watcher: str
    watched: _Watched
    expires: int
    remote_tag: str
    peer: Peer


class Notifier:
    """Every subscription, by dialog and by line."""

    def __init__(self, directory: Directory, lines: LineSource,
                 local: LocalAddresses, new_tag: Callable[[], str],
                 settings: PresenceSettings | None = None) -> None:
        self._directory = directory
        self._lines = lines  # the dialog tracker's view of a line now
        self._local = local
        self._new_tag = new_tag  # our dialog tags: random, they authenticate refreshes
        self._settings = settings or PresenceSettings()
        self._subscriptions: dict[DialogKey, Subscription] = {}
        self._by_line: dict[str, dict[DialogKey, None]] = {}  # insertion-ordered sets
        # Each watched line's changes, until all its watchers have been sent them.
        self._logs: dict[str, LineLog] = {}
        # By line: the subscriptions whose last NOTIFY carried every change of it.
        self._clean: dict[str, dict[DialogKey, None]] = {}
        self._changed: dict[DialogKey, None] = {}  # noted since the last flush
        # Each line as shown to its watchers, until the line changes.
        self._shown: dict[str, ShownLine] = {}
        self._stopping = False
        # NOTIFYs left out: only calls the watcher never saw had come and gone.
        self.skipped = 0

    def __len__(self) -> int:
        return len(self._subscriptions)

    def use_directory(self, directory: Directory) -> None:
        """A reloaded directory: new subscriptions are judged by it; the ones in
        place keep the lines they watch until they end."""
        self._directory = directory

    @property
    def notifying(self) -> int:
        """Subscriptions with a NOTIFY in flight (the drain waits for them)."""
        return sum(1 for subscription in self._subscriptions.values()
                   if subscription.state in IN_FLIGHT)

    # --- SUBSCRIBE (RFC 6665 §4.2.1) --------------------------------------------------

    def subscribe(self, request: Request, source: Source, now: float) -> Outcome:
        """Answer a SUBSCRIBE: a new subscription (no To tag) or a refresh or an
        unsubscribe inside one of ours."""
        event = request_event(request)
        if event is None or event.package != PACKAGE:
            # RFC 6665 §8.3.2: 489 names the packages served here.
            return Outcome(Reply(489, "Bad Event", (ALLOW_EVENTS,)))
        if has_to_tag(request):
            return self._in_dialog(request, source, event, now)
        return self._initial(request, source, event, now)

    def _initial(self, request: Request, source: Source, event: Event, now: float) -> Outcome:
        admitted = self._admit(request, source)
        if isinstance(admitted, Reply):
            return Outcome(admitted)
        watched, expires = admitted.watched, admitted.expires
        tag = self._new_tag()
        key = (request.call_id, admitted.remote_tag, tag)
        subscription = Subscription(
            key=key, watcher=admitted.watcher, entity=watched.entity, lines=watched.lines,
            event=_echoed(event), local=_with_tag(request.header("to") or "", tag),
            remote=request.header("from") or "", remote_cseq=request.cseq[0],
            contact=self._contact(watched.user_part, source.hop), peer=admitted.peer,
            made_from=source.hop.host, expires_at=now + expires)
        self._subscriptions[key] = subscription
        for line in watched.lines:
            self._by_line.setdefault(line, {})[key] = None
            subscription.seen[line] = self._logs.setdefault(line, LineLog()).seq
        started = SubscriptionStarted(key, admitted.watcher, watched.entity, expires)
        if expires == 0:
            # RFC 6665 §4.4.3: a fetch, one NOTIFY with the state, then it is over.
            actions = self._end(subscription, TIMEOUT, now)
        else:
            actions = self._feed(subscription, SubscriptionInput.SUBSCRIBED, now)
        # RFC 3261 §12.1.1: the 200 carries the Record-Route the route set came from,
        # so that the phone's refreshes take the same path as our NOTIFYs.
        record_routes = tuple(("Record-Route", route) for route in admitted.peer.route_set)
        reply = Reply(200, "OK", (*record_routes, ("Expires", str(expires)),
                                  ("Contact", subscription.contact)), to_tag=tag)
        return Outcome(reply, (started, *actions))

    def _admit(self, request: Request, source: Source) -> _Admitted | Reply:
        """RFC 6665 §4.2.1: who asks (authenticated, allowed to watch), then what
        for (the line, the format, the interval) and where NOTIFYs are to go."""
        if self._stopping:
            return Reply(503, "Service Unavailable (shutting down)",
                         (("Retry-After", str(DRAINING_RETRY_AFTER)),))
        watcher = source.user if source.authenticated else None
        if watcher is None:
            # Authentication answers 401 before this point; reaching here without a
            # user means nobody vouched for the request (no credentials configured).
            return Reply(403, "Forbidden (only authenticated users watch lines)")
        watched = self._watched(request.uri)
        if isinstance(watched, Reply):
            return watched
        if not self._may_watch(watcher, watched.owner):
            return Reply(403, f"Forbidden ({watcher} is not {watched.owner.id} "
                              "nor an accepted delegate)")
        if not accepts_dialog_info(request):
            return Reply(406, "Not Acceptable (only application/dialog-info+xml)")
        expires = granted_expires(request, self._settings)
        if isinstance(expires, Reply):
            return expires
        remote_tag = address_tag(request.header("from"))
        if remote_tag is None:
            return Reply(400, "Bad Request (From without a tag)")
        peer = self._peer(request, source)
        if isinstance(peer, Reply):
            return peer
        return _Admitted(watcher, watched, expires, remote_tag, peer)

    def _in_dialog(self, request: Request, source: Source, event: Event, now: float) -> Outcome:
        """A refresh or an unsubscribe (Expires: 0), matched by the dialog id: our
        tag is random, so only the subscriber can name the subscription. It must
        also come from where the SUBSCRIBE came (the phone, or the edge proxy it
        subscribed through): someone who saw the dialog's ids on the wire cannot
        move the NOTIFYs elsewhere or end the subscription."""
        key = (request.call_id, address_tag(request.header("from")) or "",
               address_tag(request.header("to")) or "")
        subscription = self._subscriptions.get(key)
        if subscription is None or subscription.event != _echoed(event):
            return Outcome(NO_SUBSCRIPTION)
        if source.hop.host != subscription.made_from:
            return Outcome(Reply(403, "Forbidden (a subscription is refreshed from where "
                                      "it was made; subscribe again from here)"))
        number = request.cseq[0]
        if number < subscription.remote_cseq:
            # RFC 3261 §12.2.2 names the status: a late refresh or unsubscribe must
            # not undo a newer one.
            return Outcome(Reply(500, f"Server Internal Error (CSeq {number} is out of "
                                      f"order: {subscription.remote_cseq} came before)"))
        subscription.remote_cseq = number
        expires = granted_expires(request, self._settings)
        if isinstance(expires, Reply):
            return Outcome(expires)
        if expires == 0:
            return Outcome(Reply(200, "OK", (("Expires", "0"),)),
                           tuple(self._end(subscription, TIMEOUT, now)))
        step = next_step(subscription.state, SubscriptionInput.SUBSCRIBED)
        if step.action is SubscriptionAction.REFUSE:
            return Outcome(NO_SUBSCRIPTION)
        peer = self._refreshed(subscription.peer, request, source)
        if isinstance(peer, Reply):
            return Outcome(peer)
        subscription.peer, subscription.expires_at = peer, now + expires
        subscription.full_state_due = True
        reply = Reply(200, "OK", (("Expires", str(expires)), ("Contact", subscription.contact)))
        return Outcome(reply, tuple(self._apply(subscription, step, now)))

    def _watched(self, uri: str) -> _Watched | Reply:
        """The Request-URI names a line, or a user (the address of record: all of the
        user's lines)."""
        parsed = sip_uri_or_none(uri)
        if parsed is None or parsed.user is None:
            return Reply(404, "Not Found (no line in the Request-URI)")
        user_part = unquote(parsed.user)
        directory = self._directory
        owner = directory.line_owner(user_part)
        if owner is not None:
            lines: tuple[str, ...] = (directory.normalize(user_part),)
        else:
            owner = directory.users.get(user_part)
            if owner is None:
                return Reply(404, f"Not Found (no line or user {user_part[:40]})")
            lines = tuple(dict.fromkeys(directory.normalize(line) for line in owner.lines))
        entity = str(SipUri(parsed.scheme, parsed.user, None, parsed.host, None))
        return _Watched(entity, owner, lines, parsed.user)

    def _may_watch(self, watcher: str, owner: User) -> bool:
        if watcher == owner.id:
            return True
        delegation = self._directory.delegations.get(owner.id)
        return delegation is not None and any(
            delegate.user == watcher and delegate.status is DelegationStatus.ACCEPTED
            for delegate in delegation.delegates)

    def _peer(self, request: Request, source: Source) -> Peer | Reply:
        """Where NOTIFYs go: where the SUBSCRIBE came from (received/rport, or over
        its TCP connection). The Record-Route becomes the route set (RFC 3261
        §12.1.1) only when a trusted peer (an edge proxy) sent it and it starts
        with a loose router: from anyone else it could aim NOTIFYs anywhere."""
        target = subscriber_target(request)
        if isinstance(target, Reply):
            return target
        routes = tuple(request.header_values("record-route"))
        first = (_loose_hop(routes[0])
                 if routes and self._directory.is_trusted_peer(source.hop.host) else None)
        if first is None:
            return self._peer_at(target, (), source.hop)
        return self._peer_at(target, routes, first)

    def _refreshed(self, peer: Peer, request: Request, source: Source) -> Peer | Reply:
        """A refresh is a target refresh: a new Contact, and a new source when there
        is no route set; the route set itself stays (RFC 3261 §12.2)."""
        target = subscriber_target(request) if request.has_header("contact") else peer.target
        if isinstance(target, Reply):
            return target
        if peer.route_set:
            return Peer(target, peer.route_set, peer.hop, peer.interface)
        return self._peer_at(target, (), source.hop)

    def _peer_at(self, target: str, routes: tuple[str, ...], hop: Hop) -> Peer | Reply:
        try:
            interface = self._local.interface_for(hop.transport, hop.host)
        except LookupError as error:
            return Reply(503, f"Service Unavailable ({error})")
        return Peer(target, routes, hop, interface)

    def _contact(self, user_part: str, hop: Hop) -> str:
        """Our Contact: the interface the SUBSCRIBE came in on; refreshes come here."""
        interface = self._local.interface_for(hop.transport, hop.host)
        return (f"<sip:{user_part}@{interface.host}:{interface.port};"
                f"transport={interface.transport.lower()}>")

    # --- line changes ----------------------------------------------------------------

    def note_change(self, change: LineChange, at: float) -> bool:
        """Remember a line change for the next ``flush``; True when anyone watches
        the line (the only cost when nobody does: one dictionary look-up)."""
        self._shown.pop(change.line, None)
        log = self._logs.get(change.line)
        if log is None:
            return False
        log.note(change.call_id, tuple((dialog.id, dialog_xml(dialog))
                                       for dialog in change.ended), began=change.began)
        # The machine hears of the first change after each NOTIFY; later ones need
        # not reach it: CHANGED leaves a state in which another CHANGED does nothing
        # (``machine``), and the next NOTIFY carries them all from the log. A busy
        # line so costs a change one entry, not one step per watcher.
        for key in self._clean.pop(change.line, ()):
            subscription = self._subscriptions[key]
            if subscription.changed_at is None:
                subscription.changed_at = at
                self._changed[key] = None
        return True

    def flush(self, now: float) -> list[Action]:
        """A NOTIFY for every subscription whose line changed, unless one is in flight
        (then the state it finds when that one is answered goes next)."""
        changed, self._changed = self._changed, {}
        actions: list[Action] = []
        for key in changed:
            subscription = self._subscriptions.get(key)
            if subscription is not None:
                actions += self._feed(subscription, SubscriptionInput.CHANGED, now)
        return actions

    # --- NOTIFY answers, expiry, stop ----------------------------------------------------

    def answered(self, key: DialogKey, status: int, now: float) -> list[Action]:
        """The final response to the NOTIFY in flight (a timeout is a 408, a
        transport error a 503). RFC 6665 §4.2.2: a 481 or a timeout ends the
        subscription; so does any other failure (the phone subscribes again)."""
        subscription = self._subscriptions.get(key)
        if subscription is None:
            return []
        if 200 <= status < 300:
            return self._feed(subscription, SubscriptionInput.ANSWERED, now)
        subscription.end_reason = f"NOTIFY answered {status}"
        return self._feed(subscription, SubscriptionInput.FAILED, now)

    def rested(self, key: DialogKey, cseq: int, now: float) -> list[Action]:
        """The minimum interval after NOTIFY ``cseq`` is over (``RestUntil``): the
        changes that came meanwhile leave as one NOTIFY. Stale when a NOTIFY has
        left since (a refresh's, the final one) or the subscription is gone."""
        subscription = self._subscriptions.get(key)
        if subscription is None or subscription.cseq != cseq:
            return []
        return self._feed(subscription, SubscriptionInput.RESTED, now)

    def expire(self, now: float) -> list[Action]:
        """End the subscriptions whose interval has run out (RFC 6665 §4.2.2)."""
        due = [subscription for subscription in self._subscriptions.values()
               if subscription.expires_at <= now and subscription.end_reason is None]
        actions: list[Action] = []
        for subscription in due:
            actions += self._end(subscription, TIMEOUT, now)
        return actions

    def stop(self, now: float) -> list[Action]:
        """The proxy stops: every subscription ends with ``deactivated`` (RFC 6665
        §4.1.3: the phone subscribes again at once) and new ones get 503."""
        self._stopping = True
        actions: list[Action] = []
        for subscription in list(self._subscriptions.values()):
            actions += self._end(subscription, DEACTIVATED, now)
        return actions

    # --- the machine and its actions ---------------------------------------------------

    def _end(self, subscription: Subscription, reason: str, now: float) -> list[Action]:
        if subscription.end_reason is None:
            subscription.end_reason = reason
        return self._feed(subscription, SubscriptionInput.ENDING, now)

    def _feed(self, subscription: Subscription, event: SubscriptionInput,
              now: float) -> list[Action]:
        return self._apply(subscription, next_step(subscription.state, event), now)

    def _apply(self, subscription: Subscription, step: Step, now: float) -> list[Action]:
        subscription.state = step.state
        match step.action:
            case SubscriptionAction.NONE | SubscriptionAction.REFUSE:
                return []
            case SubscriptionAction.SEND_STATE:
                if self._nothing_new(subscription):
                    self.skipped += 1
                    self._carried(subscription)
                    return self._feed(subscription, SubscriptionInput.UNCHANGED, now)
                remaining = max(0, int(subscription.expires_at - now))
                return [self._notify(subscription, f"active;expires={remaining}", now)]
            case SubscriptionAction.SEND_FINAL:
                return [self._notify(subscription,
                                     f"terminated;reason={subscription.end_reason}", now)]
            case SubscriptionAction.REST:
                until = subscription.sent_at + self._settings.notify_min_interval
                if until <= now:  # the answer came after the interval: no wait
                    return self._feed(subscription, SubscriptionInput.RESTED, now)
                return [RestUntil(subscription.key, until, subscription.cseq)]
            case SubscriptionAction.FORGET:
                self._forget(subscription)
                return [SubscriptionEnded(subscription.key, subscription.watcher,
                                          subscription.entity, subscription.end_reason or "")]

    def _notify(self, subscription: Subscription, subscription_state: str,
                now: float) -> SendNotify:
        """RFC 6665 §4.2.2: the full state now, plus the dialogs that ended since the
        last NOTIFY, shown this once as terminated."""
        if subscription.version and not subscription.full_state_due and self._busy(subscription):
            body = partial_state(subscription.entity, subscription.version,
                                 self._changed_dialogs(subscription))
        else:
            body = full_state_of(subscription.entity, subscription.version,
                                 self._dialogs(subscription), IDLE_DIALOG_ID)
        subscription.full_state_due = False
        subscription.version += 1
        changed_at = self._carried(subscription)
        subscription.sent_at = now
        return SendNotify(subscription.key, subscription.notify(subscription_state, body),
                          subscription.peer.hop, changed_at)

    def _nothing_new(self, subscription: Subscription) -> bool:
        """Whether every change since the last NOTIFY was of a call that came onto
        the line and left it meanwhile (``line_log``): the watcher was never shown
        it, so what it was shown still holds. The first NOTIFY and a refresh's
        (full state asked for) always go."""
        if not subscription.version or subscription.full_state_due:
            return False
        for line in subscription.lines:
            since, shown = self._since(subscription, line), self._line(line)
            if since.ended or any(call_id not in since.new or shown.call(call_id)
                                  for call_id in since.calls):
                return False
        return True

    def _carried(self, subscription: Subscription) -> float | None:
        """The subscription's watcher has what the lines' logs hold now; returns when
        the oldest change it had not been told of happened."""
        for line in subscription.lines:
            self._caught_up(subscription, line)
        changed_at, subscription.changed_at = subscription.changed_at, None
        return changed_at

    def _caught_up(self, subscription: Subscription, line: str) -> None:
        """``subscription``'s NOTIFY carries every change of ``line``: the log keeps
        only what some watcher still lacks (trimmed once it has grown)."""
        log = self._logs[line]
        subscription.seen[line] = log.seq
        self._clean.setdefault(line, {})[subscription.key] = None
        if len(log) > LOG_TRIM_AT:
            log.forget_through(min(self._subscriptions[key].seen[line]
                                   for key in self._by_line[line]))

    def _since(self, subscription: Subscription, line: str) -> Since:
        return self._logs[line].since(subscription.seen[line])

    def _dialogs(self, subscription: Subscription) -> str:
        """Every dialog of the subscription's lines and those that ended since the
        last NOTIFY, serialised; for one line, shared by the watchers notified from
        the same point of its log."""
        if len(subscription.lines) == 1:
            line = subscription.lines[0]
            shown, since = self._line(line), self._since(subscription, line)
            if not since.ended:
                return shown.xml
            return shown.text(("full", subscription.seen[line]),
                              lambda: _joined(shown.dialogs, since.ended))
        return _joined([dialog for line in subscription.lines
                        for dialog in self._line(line).dialogs],
                       [dialog for line in subscription.lines
                        for dialog in self._since(subscription, line).ended])

    def _busy(self, subscription: Subscription) -> bool:
        calls = sum(self._line(line).calls for line in subscription.lines)
        return calls > LAMP_FULL_STATE_MAX_CALLS

    def _changed_dialogs(self, subscription: Subscription) -> str:
        """The dialogs of the calls that changed since the last NOTIFY, and the
        dialogs that ended meanwhile (as terminated), serialised."""
        if len(subscription.lines) == 1:
            line = subscription.lines[0]
            return self._line(line).text(("partial", subscription.seen[line]),
                                         lambda: self._changed_on(subscription, line))
        return _joined([dialog for line in subscription.lines
                        for call_id in self._since(subscription, line).calls
                        for dialog in self._line(line).call(call_id)],
                       [dialog for line in subscription.lines
                        for dialog in self._since(subscription, line).ended])

    def _changed_on(self, subscription: Subscription, line: str) -> str:
        since, shown = self._since(subscription, line), self._line(line)
        return _joined([dialog for call_id in since.calls for dialog in shown.call(call_id)],
                       since.ended)

    def _line(self, number: str) -> ShownLine:
        shown = self._shown.get(number)
        if shown is None:
            shown = self._shown[number] = ShownLine(self._lines, number)
        return shown

    def _forget(self, subscription: Subscription) -> None:
        key = subscription.key
        del self._subscriptions[key]
        self._changed.pop(key, None)
        for line in subscription.lines:
            self._clean.get(line, {}).pop(key, None)
            keys = self._by_line.get(line)
            if keys is not None:
                keys.pop(key, None)
                if not keys:
                    del self._by_line[line]
                    self._logs.pop(line, None)
                    self._clean.pop(line, None)


def _joined(dialogs: Iterable[ShownDialog], ended: Iterable[ShownDialog]) -> str:
    """``dialogs`` and then the ``ended`` ones, each dialog once."""
    shown = dict(dialogs)
    for dialog_id, text in ended:
        shown.setdefault(dialog_id, text)
    return "".join(shown.values())


# --- reading the request ------------------------------------------------------------------



def _with_tag(value: str, tag: str) -> str:
    try:
        return str(parse_name_addr(value).with_param("tag", tag))
    except SipParseError:
        return f"{value};tag={tag}"


def _echoed(event: Event) -> str:
    """What each NOTIFY's Event repeats: the package and the ``id`` (RFC 6665 §8.2.1)."""
    return PACKAGE if event.id is None else f"{PACKAGE};id={event.id}"


def _loose_hop(route: str) -> Hop | None:
    """The next hop of a loose-routing first Route; None for anything else."""
    try:
        uri = parse_uri(parse_name_addr(route).uri)
        if not isinstance(uri, SipUri) or not uri.is_loose_router:
            return None
        return hop_for_uri(uri)
    except SipParseError:
        return None
