"""Who "this proxy" is: the addresses it listens on and puts in Via and Record-Route."""

from __future__ import annotations

from dataclasses import dataclass, field

from proxy.core.flows import CALLER_FLOW_PARAM, FLOW_PARAM
from proxy.core.route_token import TOKEN_PARAM
from proxy.sip.uri import SipUri, Uri


@dataclass(frozen=True, slots=True)
class Interface:
    """One listening socket, as it is advertised in Via and Record-Route."""

    transport: str  # "UDP" or "TCP"
    host: str  # advertised host; IPv6 in brackets
    port: int

    def via(self, branch: str) -> str:
        """Our Via for a request sent from this interface (§16.6 step 8).

        RFC 3581 §3: ``rport`` asks the next hop to answer to our source port.
        """
        return f"SIP/2.0/{self.transport} {self.host}:{self.port};branch={branch};rport"

    def record_route(self, token: str, flow: str = "", caller_flow: str = "") -> str:
        """Our Record-Route entry for this interface (§16.6 step 4), a loose router,
        carrying the dialog's route token (``proxy.core.route_token``) and, for a
        branch sent down a registered phone's flow or a call placed by a phone
        behind a NAT, those flows (``proxy.core.flows``)."""
        flow_param = f"{FLOW_PARAM}={flow};" if flow else ""
        caller_param = f"{CALLER_FLOW_PARAM}={caller_flow};" if caller_flow else ""
        return (f"<sip:{self.host}:{self.port};transport={self.transport.lower()};lr;"
                f"{flow_param}{caller_param}{TOKEN_PARAM}={token}>")


@dataclass(frozen=True, slots=True)
class LocalAddresses:
    """Every interface of this proxy."""

    interfaces: tuple[Interface, ...]
    _by_transport: dict[tuple[str, int], Interface] = field(init=False, repr=False,
                                                            compare=False)

    def interface_for(self, transport: str, peer_host: str) -> Interface:
        """The interface to use with ``peer_host`` over ``transport``: the first one of
        that transport and the peer's address family."""
        family = 6 if ":" in peer_host else 4
        interface = self._by_transport.get((transport, family))
        if interface is None:
            raise LookupError(f"no {transport} IPv{family} listener to reach {peer_host}")
        return interface

    def __post_init__(self) -> None:
        # Per-message lookups: the first interface of each transport and family.
        by_transport: dict[tuple[str, int], Interface] = {}
        for interface in self.interfaces:
            family = 6 if interface.host.startswith("[") else 4
            by_transport.setdefault((interface.transport, family), interface)
        object.__setattr__(self, "_by_transport", by_transport)

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
