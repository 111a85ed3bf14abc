"""A small authoritative DNS server on a loopback address, for the tests: it
answers from a fixed table of records (dnspython builds and parses the packets),
over UDP, in a thread, until stopped."""

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
    """Serves ``records`` on ``endpoint`` (UDP); every query is counted by name and type."""

    def __init__(self, endpoint: Endpoint, records: Records) -> None:
        self.endpoint = endpoint
        self.queries: list[tuple[str, str]] = []
        self._records = {(name.lower(), rdtype): texts for (name, rdtype), texts in records.items()}
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((endpoint.host, endpoint.port))
        self._socket.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dns-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            self._socket.sendto(self._answer(data), peer)

    def _answer(self, data: bytes) -> bytes:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        texts = self._records.get((name, rdtype))
        if texts:
            response.answer.append(dns.rrset.from_text_list(
                question.name, TTL, dns.rdataclass.IN, question.rdtype, texts))
        elif not any(known == name for known, _ in self._records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()
