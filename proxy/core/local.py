"""Who "this proxy" is: the addresses it listens on and puts in Via and Record-Route."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import NamedTuple

from proxy.core.flows import CALLER_FLOW_PARAM, FLOW_PARAM
from proxy.core.route_token import TOKEN_PARAM
from proxy.sip.uri import SipUri, Uri

# The Record-Route parameter that marks a dialog of the first worker, when there
# are several (``proxy.core.workers``): the others hand its requests to it.
FIRST_WORKER_PARAM = "vpw"
_FIRST_WORKER_MARK = f"{FIRST_WORKER_PARAM}=0;"


@dataclass(frozen=True, slots=True)
class Interface:
    """One listening socket, as it is advertised in Via and Record-Route."""

    transport: str  # "UDP" or "TCP"
    host: str  # advertised host; IPv6 in brackets
    port: int
    # Workers 1, 2, ... of several: the port of their own their requests leave from,
    # so that the responses come back to them (the listener's port is shared, and the
    # kernel hands each datagram to whichever worker it picks). None: the listener's.
    own_port: int | None = None
    # The first of several workers, which follows the dialogs of users' lines: its
    # Record-Route says so.
    first_worker: bool = False

    def via(self, branch: str) -> str:
        """Our Via for a request sent from this interface (§16.6 step 8).

        RFC 3581 §3: ``rport`` asks the next hop to answer to our source port.
        """
        return (f"SIP/2.0/{self.transport} {self.host}:{self.own_port or self.port};"
                f"branch={branch};rport")

    def record_route(self, token: str, flow: str = "", caller_flow: str = "") -> str:
        """Our Record-Route entry for this interface (§16.6 step 4), a loose router,
        carrying the dialog's route token (``proxy.core.route_token``), the first
        worker's mark when it is that worker and, for a branch sent down a
        registered phone's flow or a call placed by a phone behind a NAT, those
        flows (``proxy.core.flows``)."""
        worker_param = _FIRST_WORKER_MARK if self.first_worker else ""
        flow_param = f"{FLOW_PARAM}={flow};" if flow else ""
        caller_param = f"{CALLER_FLOW_PARAM}={caller_flow};" if caller_flow else ""
        return (f"{self.route_prefix}{worker_param}{flow_param}{caller_param}"
                f"{TOKEN_PARAM}={token}>")

    @property
    def route_prefix(self) -> str:
        """What our Record-Route entry holds before the dialog's own parameters."""
        return f"<sip:{self.host}:{self.port};transport={self.transport.lower()};lr;"


# What a flow value (``flows.flow_value``) or a route token may hold; anything
# else in our own entry is left to the full parse.
_PARAM_VALUE_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-_.[]")


class OwnRoute(NamedTuple):
    """The dialog's parameters of one of our own Route entries."""

    token: str | None  # None: an entry naming us without one (we did not write it)
    flow: str  # "" for none
    caller_flow: str  # "" for none
    first_worker: bool = False  # a dialog the first of several workers follows


def _dialog_params(text: str) -> OwnRoute | None:
    """``[vpw=0;][vpf=F;][vpc=C;]vpt=T`` as :meth:`Interface.record_route` writes
    it, else None."""
    first_worker = text.startswith(_FIRST_WORKER_MARK)
    if first_worker:
        text = text[len(_FIRST_WORKER_MARK):]
    values = {FLOW_PARAM: "", CALLER_FLOW_PARAM: ""}
    *flows, last = text.split(";")
    names = [FLOW_PARAM, CALLER_FLOW_PARAM]
    for part in flows:
        name, _, value = part.partition("=")
        if name not in names or not _plain(value):
            return None
        names = names[names.index(name) + 1:]  # in the order written, each once
        values[name] = value
    name, _, token = last.partition("=")
    if name != TOKEN_PARAM or not _plain(token):
        return None
    return OwnRoute(token, values[FLOW_PARAM], values[CALLER_FLOW_PARAM], first_worker)


def _plain(value: str) -> bool:
    return bool(value) and _PARAM_VALUE_CHARACTERS.issuperset(value)


@dataclass(frozen=True, slots=True)
class LocalAddresses:
    """Every interface of this proxy."""

    interfaces: tuple[Interface, ...]
    _by_transport: dict[tuple[str, int], Interface] = field(init=False, repr=False,
                                                            compare=False)
    _route_prefixes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def interface_for(self, transport: str, peer_host: str) -> Interface:
        """The interface to use with ``peer_host`` over ``transport``: the first one of
        that transport and the peer's address family."""
        interface = self._by_transport.get((transport, _family(peer_host)))
        if interface is None:
            raise LookupError(f"no {transport} IPv{_family(peer_host)} listener to reach "
                              f"{peer_host}")
        return interface

    def listens(self, transport: str, peer_host: str) -> bool:
        """Whether an interface of ``transport`` reaches ``peer_host``'s address family."""
        return (transport, _family(peer_host)) in self._by_transport

    def __post_init__(self) -> None:
        # Per-message lookups: the first interface of each transport and family.
        by_transport: dict[tuple[str, int], Interface] = {}
        for interface in self.interfaces:
            family = 6 if interface.host.startswith("[") else 4
            by_transport.setdefault((interface.transport, family), interface)
        object.__setattr__(self, "_by_transport", by_transport)
        object.__setattr__(self, "_route_prefixes",
                           tuple(interface.route_prefix for interface in self.interfaces))

    def own_route_params(self, route_value: str) -> OwnRoute | None:
        """The token and flows of a Route value that is one of our Record-Route
        entries exactly as :meth:`Interface.record_route` wrote it, else None.

        The Route an ACK or a BYE brings back is that string (§12.1.2: the route
        set is the Record-Route's URIs), and it differs per dialog, so parsing it
        would miss the URI cache on every call. For this shape the full reading
        (``parse_uri``, ``is_local``, the parameters) gives this very answer;
        any other spelling of our address is read in full by the caller.
        """
        if route_value[-1:] != ">":
            return None
        for prefix in self._route_prefixes:
            if route_value.startswith(prefix):
                return _dialog_params(route_value[len(prefix):-1])
        return None

    def is_local(self, uri: Uri) -> bool:
        """True when ``uri`` points at this proxy (§16.4: Route and Request-URI checks)."""
        return isinstance(uri, SipUri) and self.is_local_host_port(uri.host, uri.port)

    def may_name_us(self, text: str) -> bool:
        """A cheap pre-check before parsing: does ``text`` mention one of our hosts?"""
        return any(interface.host in text for interface in self.interfaces)

    def is_local_host_port(self, host: str, port: int | None) -> bool:
        """True when ``host:port`` (port None meaning 5060) is one of our interfaces."""
        host = host.lower()
        port = port or 5060
        return any(i.host.lower() == host and i.port == port for i in self.interfaces)


def _family(peer_host: str) -> int:
    """4 or 6: the address family of an IP literal (unbracketed)."""
    return 6 if ":" in peer_host else 4
