"""A small authoritative DNS server on a loopback address, for the tests: it
answers from a table of records (dnspython builds and parses the packets), over
UDP and TCP on the same port (RFC 1035 §4.2), in threads, until stopped.

``truncate_udp`` makes every UDP answer a truncated one (TC set, no records), as
a server does when the answer does not fit in a datagram: the resolver has to
ask again over TCP (RFC 1035 §4.2.1, RFC 7766 §5). ``serve`` replaces the table,
so a test can change an answer once its TTL has run out.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from .loopback import Endpoint

# (name, type) -> the records' text, such as ("_sip._udp.gw.test.", "SRV"): ["10 0 5060 a.gw.test."]
Records = Mapping[tuple[str, str], list[str]]
TTL = 60


class DnsServer:
    """Serves ``records`` on ``endpoint`` (UDP and TCP); every query is counted by
    name and type, and those that came over TCP once more in ``tcp_queries``."""

    def __init__(self, endpoint: Endpoint, records: Records, *, ttl: int = TTL,
                 truncate_udp: bool = False) -> None:
        self.endpoint = endpoint
        self.queries: list[tuple[str, str]] = []
        self.tcp_queries: list[tuple[str, str]] = []
        self._ttl = ttl
        self._truncate_udp = truncate_udp
        self.serve(records)
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind((endpoint.host, endpoint.port))
        self._udp.settimeout(0.1)
        self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._tcp.bind((endpoint.host, endpoint.port))
        self._tcp.listen(8)
        self._tcp.settimeout(0.1)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=serve, name=f"dns-{serve.__name__}", daemon=True)
                         for serve in (self._serve_udp, self._serve_tcp)]
        for thread in self._threads:
            thread.start()

    def serve(self, records: Records) -> None:
        """Answer from ``records`` from now on."""
        self._records = {(name.lower(), rdtype): texts for (name, rdtype), texts in records.items()}

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(2.0)
        self._udp.close()
        self._tcp.close()

    def _serve_udp(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._udp.recvfrom(4096)
            except TimeoutError:
                continue
            self._udp.sendto(self._answer(data, truncated=self._truncate_udp), peer)

    def _serve_tcp(self) -> None:
        """One query a connection is all a resolver's fallback sends; each message
        has a two-byte length in front (RFC 1035 §4.2.2)."""
        while not self._stop.is_set():
            try:
                connection, _ = self._tcp.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(2.0)
                try:
                    length = int.from_bytes(_read(connection, 2), "big")
                    query = _read(connection, length)
                except (OSError, EOFError):
                    continue
                answer = self._answer(query, truncated=False, over_tcp=True)
                connection.sendall(len(answer).to_bytes(2, "big") + answer)

    def _answer(self, data: bytes, *, truncated: bool, over_tcp: bool = False) -> bytes:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        if over_tcp:
            self.tcp_queries.append((name, rdtype))
        if truncated:
            response.flags |= dns.flags.TC  # RFC 1035 §4.1.1: the rest did not fit
            return response.to_wire()
        texts = self._records.get((name, rdtype))
        if texts:
            response.answer.append(dns.rrset.from_text_list(
                question.name, self._ttl, dns.rdataclass.IN, question.rdtype, texts))
        elif not any(known == name for known, _ in self._records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()


def _read(connection: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            raise EOFError("the resolver closed the connection")
        data += chunk
    return data
