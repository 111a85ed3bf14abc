"""What a request gets: forwarded along a plan, answered, or handed to a service.

One pure function, :func:`classify`, holds the proxy's routing decision tree and
its security model (README, "Security model"); the driver only carries the
verdict out. Order matters and follows RFC 3261 §16.3-§16.5: a proxy that is
shutting down refuses new calls first, then the request is validated, then who
sent it decides what it may do, and only then is anything looked up.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import assert_never
from urllib.parse import unquote

from proxy.auth import (
    PROXY_CHALLENGE,
    REGISTRAR_CHALLENGE,
    Authenticated,
    Blocked,
    Challenge,
    DigestAuthority,
)
from proxy.core.flows import caller_flow, flow_hop, flow_uri
from proxy.core.local import LocalAddresses
from proxy.core.pickup import PICKUP_REFUSAL, LineDialogs, Pickup, PickupRefused, pickup_for
from proxy.core.route_token import RouteTokens
from proxy.core.router import route_request
from proxy.core.routing import Preprocessed, has_to_tag, route_to_next_hop
from proxy.core.validation import validate_request
from proxy.defaults import DRAINING_RETRY_AFTER
from proxy.policy.decide import Decision as PolicyDecision
from proxy.policy.plan import RoutingPlan, Stage, Target, TargetRole
from proxy.policy.trust import Source, SourceKind, TrustModel, UntrustedCalls
from proxy.sip.address import address_tag
from proxy.sip.errors import SipParseError
from proxy.sip.event import DIALOG_PACKAGE, request_event
from proxy.sip.hop import NO_NAMES, Hop
from proxy.sip.message import Header, Request
from proxy.sip.uri import sip_uri_or_none
from proxy.sip.via import parse_via


@dataclass(frozen=True, slots=True)
class Forward:
    """Fork the request along ``plan``."""

    plan: RoutingPlan
    strip_asserted_identity: bool  # RFC 3325: the sender is not a trusted peer
    decision: PolicyDecision | None = None  # the policy's reasons, for an initial request
    # For a request that follows its own Route set or Request-URI: the request as it
    # is sent (§16.6 steps 6-7) and its next hop, worked out once when it was checked.
    routed: tuple[Request, Hop] | None = None
    # The sender as identified (an authenticated user), when it had to be.
    source: Source | None = None
    # The flow of a registered phone that places a call from behind a NAT, for our
    # Record-Route when the request forms a dialog (``proxy.core.flows``); '' for none.
    caller_flow: str = ""
    # A pick-up of a call held on a shared line (``proxy.core.pickup``): the plan
    # rings the held party with the request as ``Pickup.applied_to`` makes it.
    pickup: Pickup | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """Answer the request with ``status``; ``refusal`` names why, when it is a refusal
    of the security model (counted and logged once per source per minute)."""

    status: int
    reason: str
    headers: tuple[Header, ...] = ()
    refusal: str | None = None
    decision: PolicyDecision | None = None  # the policy's reasons, when it was asked


@dataclass(frozen=True, slots=True)
class Serve:
    """The request ends at the proxy: hand it to the service ``service``, with the
    sender as identified (an authenticated user)."""

    service: str
    source: Source


Verdict = Forward | Answer | Serve

# The one service the core itself has: requests for the proxy's own address.
PROXY_SERVICE = "proxy"
# REGISTER for the domain, when users register (``proxy.registrar``).
REGISTRAR_SERVICE = "registrar"
# SUBSCRIBE for the dialog package of a user's line: busy lamps (``proxy.presence``).
PRESENCE_SERVICE = "presence"

FORBIDDEN = "Forbidden"


class _Side(enum.Enum):
    """Who sent an in-dialog request, as its route token tells (RFC 3261 §12.2.1.1:
    the caller's tag is the From tag of the caller's requests, the To tag of the
    callee's)."""

    CALLER = "caller"
    CALLEE = "callee"


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What is known about a request before anything is decided."""

    preprocessed: Preprocessed  # after §16.4: our Route entries popped
    source: Source
    draining: bool
    wall_time: float = 0.0  # Unix seconds: digest nonces must outlive the process


@dataclass(frozen=True, slots=True)
class Authentication:
    """Digest authentication (RFC 3261 §22): who must prove who they are."""

    authority: DigestAuthority
    users: Mapping[str, str]  # digest username -> user id
    required: frozenset[str]  # user ids with credentials: their phones must authenticate


@dataclass(frozen=True, slots=True)
class Classifier:
    """The configuration :func:`classify` decides with."""

    local: LocalAddresses
    trust: TrustModel
    tokens: RouteTokens
    timer_c: float
    auth: Authentication | None = None
    registrar_hosts: frozenset[str] = frozenset()  # REGISTER for these goes to the registrar
    # A dialog SUBSCRIBE to a line at these hosts (or at us) goes to the lamps.
    presence_hosts: frozenset[str] = frozenset()
    # The calls on users' lines, for picking up a held one; None: no line state.
    dialogs: LineDialogs | None = None

    def classify(self, facts: RequestFacts, now: float) -> Verdict:
        """The verdict for a request (not a CANCEL: that is matched to its INVITE)."""
        request = facts.preprocessed.request
        if facts.draining and request.method == "INVITE" and not has_to_tag(request):
            return Answer(503, "Service Unavailable (shutting down)",
                          (("Retry-After", str(DRAINING_RETRY_AFTER)),))
        rejection = validate_request(request, self.local)
        if rejection is not None:
            return Answer(rejection.status, rejection.reason, rejection.extra_headers)
        if has_to_tag(request):
            return self._in_dialog(facts)
        return self._initial(facts, now)

    def in_dialog_forward(self, facts: RequestFacts) -> Forward | None:
        """How an in-dialog request (the ACK of a 2xx) follows its Route set, or None
        when it may not."""
        verdict = self._in_dialog(facts)
        return verdict if isinstance(verdict, Forward) else None

    # --- in-dialog requests (§12.2, §16.4) -------------------------------------------

    def _in_dialog(self, facts: RequestFacts) -> Verdict:
        request, source = facts.preprocessed.request, facts.source
        if (request.method == "SUBSCRIBE" and self.presence_hosts and self._names_us(request.uri)
                and not request.header_values("route")):
            # A refresh or unsubscribe in a lamp subscription: the Contact we gave in
            # the 200 (a phone may have put our address as its outbound proxy on
            # top, popped in preprocessing). Its dialog id names the subscription.
            return Serve(PRESENCE_SERVICE, source)
        if facts.preprocessed.our_route:
            side = self._token_side(facts.preprocessed)
            if side is None:
                return Answer(403, f"{FORBIDDEN} (route set not issued by this proxy)",
                              refusal="route_token")
            # RFC 5626 §5.3, RFC 3261 §16.6 step 7: the caller's request goes down the
            # flow the callee registered from, the callee's down the flow the calling
            # phone sent its request from; not to the Contact as written.
            preprocessed = facts.preprocessed
            value = preprocessed.flow if side is _Side.CALLER else preprocessed.caller_flow
            flow = flow_hop(value) if value else None
            if flow is not None and not request.header_values("route"):
                return self._down_flow(request, source, flow)
            return self._as_is(request, source)
        if self._names_us(request.uri) and not request.header_values("route"):
            # §12.2: a mid-dialog request for us without a Route of ours belongs to no
            # dialog we are in.
            return Answer(481, "Call/Transaction Does Not Exist (no route set)")
        if source.trusted:
            return self._as_is(request, source)  # a trusted peer may route through us
        return Answer(403, f"{FORBIDDEN} (in-dialog request without this proxy's route)",
                      refusal="no_route_token")

    def _token_side(self, preprocessed: Preprocessed) -> _Side | None:
        """Whose request it is when its route token is ours, else None."""
        token = preprocessed.token
        if not token:
            return None
        request, flows = preprocessed.request, (preprocessed.flow, preprocessed.caller_flow)
        # The From tag first: the caller's side (ACK, BYE) is checked without reading
        # the To; the callee's side carries the caller's tag in its To.
        if self.tokens.verify(token, request.call_id, address_tag(request.header("from")),
                              *flows):
            return _Side.CALLER
        if self.tokens.verify(token, request.call_id, address_tag(request.header("to")),
                              *flows):
            return _Side.CALLEE
        return None

    # --- initial requests (§16.5) --------------------------------------------------

    def _initial(self, facts: RequestFacts, now: float) -> Verdict:
        request = facts.preprocessed.request
        source = self._identify(request, facts.source, facts.wall_time)
        if isinstance(source, Answer):
            return source
        verdict = self._initial_from(request, source, facts.wall_time, now)
        if isinstance(verdict, Forward) and source.authenticated:
            # A user's phone behind a NAT (or on its own TCP connection) places the
            # call: the callee's requests must find it where it sent this one from.
            verdict = replace(verdict, caller_flow=caller_flow(request, source.hop))
        return verdict

    def _initial_from(self, request: Request, source: Source, wall_time: float,
                      now: float) -> Verdict:
        untrusted = source.kind is SourceKind.UNTRUSTED
        if untrusted and self.trust.untrusted_calls is UntrustedCalls.REFUSE:
            # The same answer for every number: lines cannot be enumerated.
            return Answer(403, FORBIDDEN, refusal="untrusted_source")
        if self.dialogs is not None:
            pickup = pickup_for(request, source, self.trust.directory, self.dialogs)
            if pickup is not None:
                return self._picking_up(pickup, source)
        if request.header_values("route"):
            return self._preloaded(request, source)
        request_uri = sip_uri_or_none(request.uri)
        if (request.method == "REGISTER" and request_uri is not None
                and (request_uri.host.lower() in self.registrar_hosts
                     or (self.local.is_local(request_uri) and self.registrar_hosts))):
            return Serve(REGISTRAR_SERVICE, source)
        if self._watches_line(request):
            return Serve(PRESENCE_SERVICE, source)
        if request_uri is not None and request_uri.user is None and self.local.is_local(
                request_uri):
            # The proxy's own address (an OPTIONS ping): nothing about lines to learn.
            return Serve(PROXY_SERVICE, source)
        decision = route_request(request, source, self.trust.directory, now)
        if decision.refusal is not None:
            # An authenticated phone asked for a line it may not call from: not its
            # own, nor a delegator's with place_calls (``proxy.policy.placing``).
            return Answer(403, f"{FORBIDDEN} ({decision.refusal.reason})",
                          refusal=decision.refusal.counter, decision=decision)
        if decision.plan is None and decision.outbound is not None and self.auth is not None:
            # Only users' phones call out: a phone that sent no credentials yet (under
            # ``local_lines`` it need not) is asked for them (RFC 3261 §22.3).
            challenge = self.auth.authority.challenge(PROXY_CHALLENGE, wall_time)
            return Answer(PROXY_CHALLENGE.status, PROXY_CHALLENGE.reason, challenge,
                          decision=decision)
        if decision.plan is None:
            return Answer(404, f"Not Found (no line or route for {request.uri[:60]})",
                          decision=decision)
        return Forward(decision.plan, not decision.trust_asserted_identity, decision,
                       source=source)

    def _picking_up(self, pickup: Pickup | PickupRefused, source: Source) -> Verdict:
        """A user's phone takes a held call: to the held party, or refused."""
        if isinstance(pickup, PickupRefused):
            return Answer(pickup.status, pickup.reason, refusal=PICKUP_REFUSAL)
        plan = RoutingPlan((Stage((pickup.target,), self.timer_c),))
        return Forward(plan, strip_asserted_identity=not source.trusted, source=source,
                       pickup=pickup)

    # --- who sent it (RFC 3261 §22) --------------------------------------------------

    def _identify(self, request: Request, source: Source, wall_time: float) -> Source | Answer:
        """The sender, authenticated when it must be: every REGISTER and lamp
        SUBSCRIBE, a phone of a user with credentials, and (under ``refuse``) anyone
        untrusted is challenged; a trusted peer's other requests are not. An unknown
        username gets the very same challenge as a wrong password (the authority
        sees to it)."""
        auth = self.auth
        if auth is None:
            return source
        served = request.method == "REGISTER" or self._watches_line(request)
        if source.trusted and not served:
            # A trusted peer is not challenged, but a REGISTER or SUBSCRIBE it relays
            # (an edge proxy, RFC 3327) still carries the phone's own credentials.
            return source
        # RFC 3261 §22.1: the proxy answering as the UAS challenges with 401. Which
        # challenge a lamp SUBSCRIBE gets must not depend on whether its line exists:
        # 401 for one and 407 for another would tell strangers which lines do.
        asks_us = request.method == "REGISTER" or self._lamp_user(request) is not None
        kind = REGISTRAR_CHALLENGE if asks_us else PROXY_CHALLENGE
        credentials = request.header_lines(kind.credentials_header)  # commas are inside
        if not credentials and not served and not self._must_authenticate(source, auth):
            return source
        outcome = auth.authority.check(request.method, request.uri, credentials,
                                       _failing_party(request, source), wall_time)
        match outcome:
            case Authenticated(username):
                user = auth.users.get(username)
                if user is not None:
                    return Source(source.hop, SourceKind.PHONE, user, authenticated=True)
                challenge = auth.authority.challenge(kind, wall_time)
            case Challenge(stale):
                challenge = auth.authority.challenge(kind, wall_time, stale=stale)
            case Blocked():
                return Answer(403, FORBIDDEN, refusal="auth_blocked")
            case _:
                assert_never(outcome)
        return Answer(kind.status, kind.reason, challenge)

    def _must_authenticate(self, source: Source, auth: Authentication) -> bool:
        if source.kind is SourceKind.PHONE:
            return source.user in auth.required  # a static phone of a user with no password
        return self.trust.untrusted_calls is UntrustedCalls.REFUSE

    def _watches_line(self, request: Request) -> bool:
        """A SUBSCRIBE for the dialog package (RFC 4235) of a user's line or address
        of record, here: the lamps answer it. Other SUBSCRIBEs are routed as before."""
        user = self._lamp_user(request)
        if user is None:
            return False
        directory = self.trust.directory
        return directory.line_owner(user) is not None or user in directory.users

    def _lamp_user(self, request: Request) -> str | None:
        """The user part of a SUBSCRIBE for the dialog package addressed to us,
        whether or not it names a line; None for any other request."""
        if request.method != "SUBSCRIBE" or not self.presence_hosts:
            return None
        event = request_event(request)
        uri = sip_uri_or_none(request.uri)
        if event is None or event.package != DIALOG_PACKAGE or uri is None or uri.user is None:
            return None
        if uri.host.lower() not in self.presence_hosts and not self.local.is_local(uri):
            return None
        return unquote(uri.user)

    def _preloaded(self, request: Request, source: Source) -> Verdict:
        """A Route set the sender chose: only trusted peers may send anywhere; others
        only to a destination the configuration names."""
        verdict = self._as_is(request, source)
        if (not source.trusted and isinstance(verdict, Forward) and verdict.routed is not None
                and not self.trust.may_send_to(verdict.routed[1])):
            return Answer(403, f"{FORBIDDEN} (route to an address this proxy does not serve)",
                          refusal="foreign_route")
        return verdict

    def _as_is(self, request: Request, source: Source) -> Verdict:
        """Forward along the request's own Route set or Request-URI (§16.5: one target),
        once it is clear that the next hop can be used."""
        try:
            # A Route set the sender chose is followed to IP addresses only: the
            # resolver looks up the names the configuration lists, no others.
            sent, hops = route_to_next_hop(request, "UDP", NO_NAMES)
            routed = (sent, hops[0])
        except SipParseError as error:
            return _answer_for_unusable(error)
        return self._forward_as_is(request.uri, routed, source)

    def _down_flow(self, request: Request, source: Source, flow: Hop) -> Forward:
        """Forward to the Request-URI, sent down a registered phone's flow."""
        return self._forward_as_is(request.uri, (request, flow), source, flow_uri(flow))

    def _forward_as_is(self, uri: str, routed: tuple[Request, Hop], source: Source,
                       next_hop: str | None = None) -> Forward:
        # RFC 3325 §5: a P-Asserted-Identity goes on only from a trusted peer.
        return Forward(_one_target_plan(uri, next_hop, self.timer_c),
                       strip_asserted_identity=not source.trusted, routed=routed,
                       source=source)

    def _names_us(self, uri: str) -> bool:
        parsed = sip_uri_or_none(uri)
        return parsed is not None and self.local.is_local(parsed)


@lru_cache(maxsize=1024)
def _one_target_plan(uri: str, next_hop: str | None, timeout: float) -> RoutingPlan:
    """The plan that sends to ``uri`` alone (through ``next_hop``, a phone's flow,
    when given). Cached: plans are frozen values, and the requests of a dialog
    (often of every dialog with one phone) share their target."""
    return RoutingPlan((Stage((Target(uri, TargetRole.ROUTE, next_hop=next_hop),), timeout),))


_STATUS_PHRASES = {400: "Bad Request", 416: "Unsupported URI Scheme",
                   503: "Service Unavailable"}


def _answer_for_unusable(error: SipParseError) -> Answer:
    """A Route or Request-URI the proxy cannot send to: 400 for a malformed one, 416
    for a scheme it cannot route, 503 for a target it cannot reach; each says why."""
    status = error.status_hint if error.status_hint in _STATUS_PHRASES else 400
    return Answer(status, f"{_STATUS_PHRASES[status]} ({error.reason})")


def _failing_party(request: Request, source: Source) -> str:
    """Whom failed attempts are counted against (and blocked): the sender, or for a
    request a trusted edge proxy relays, the phone behind it as the edge recorded
    it in the phone's Via (received, else sent-by; RFC 3261 §18.2.1). Counted
    against the edge itself, one phone's bad password would lock out every phone
    behind it."""
    if not source.trusted:
        return source.hop.host
    vias = request.header_values("via")
    if len(vias) < 2:
        return source.hop.host
    try:
        phone = parse_via(vias[1])
    except SipParseError:
        return source.hop.host
    return phone.param("received") or phone.host
