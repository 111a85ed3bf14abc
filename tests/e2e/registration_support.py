"""Helpers for the registration end-to-end tests on top of the e2e harness.

- ``registration_directory(...)``: the sections that turn registration on
  (``domain``, ``auth``, ``users`` with ``registered`` endpoints and credentials).
- :class:`Registrant`: a phone's REGISTER client written by hand on a
  :class:`UdpProbe`, computing digest credentials with hashlib (``digest.py``).
- ``register_with_sipp(...)``: SIPp plays ``uac_register.xml`` from an endpoint
  the test chose, so a SIPp callee can listen there afterwards.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .digest import challenges, credentials, offered
from .loopback import Endpoint
from .proxy_process import ProxyProcess
from .sip_trace import TracedMessage
from .sipp import SippLauncher, SippResult
from .udp_probe import UdpProbe, request_text

DOMAIN = "vipproxy.test"
REALM = "vipproxy.test"
LINE = "1000"
# Alice's digest credentials; scenarios/uac_register.xml writes them out too.
ALICE = "alice"
ALICE_PASSWORD = "alice-secret"
ANSWER_TIMEOUT = 5.0
REGISTER_EXPIRES = 600
# What SIPp 3.6.1 and baresip 1.0.0 (libre 1.1.0) can answer; see the report in
# test_registration.py. The key ``auth.algorithms`` (offered in this order, one
# header field each) is what the tests ask the proxy for.
SIPP_ALGORITHMS = ("MD5", "SHA-256")
BARESIP_ALGORITHMS = ("MD5",)


def registering_user(
    *, lines: Sequence[str] = (LINE,), endpoints: Sequence[str] = ("registered",),
    username: str = ALICE, password: str = ALICE_PASSWORD,
) -> dict[str, Any]:
    """A ``users`` entry whose phones register with digest credentials."""
    return {
        "name": username.title(),
        "lines": list(lines),
        "endpoints": list(endpoints),
        "auth": {"username": username, "password": password},
    }


def registration_directory(
    users: Mapping[str, Any] | None = None,
    *,
    algorithms: Sequence[str] | None = None,
    **sections: Any,
) -> dict[str, Any]:
    """``domain``, ``auth`` and ``users`` (Alice alone by default), plus ``sections``.

    ``algorithms`` is offered in that order; None leaves the proxy's default.
    """
    auth: dict[str, Any] = {"realm": REALM}
    if algorithms is not None:
        auth["algorithms"] = list(algorithms)
    return {
        "domain": DOMAIN,
        "auth": auth,
        "users": dict(users) if users is not None else {ALICE: registering_user()},
        **sections,
    }


def contact_uris(response: TracedMessage) -> list[str]:
    """The URIs of every Contact of a 200 to REGISTER (the current bindings)."""
    values = [value for line in response.header_lines("Contact") for value in line.split(",")]
    return [match[1] for value in values if (match := re.search(r"<([^>]*)>", value))]


def contact_expires(response: TracedMessage) -> dict[str, int]:
    """Contact URI -> its ``expires`` parameter in a 200 to REGISTER (RFC 3261 §10.3
    step 8); fails if a Contact lacks one."""
    found = {}
    for line in response.header_lines("Contact"):
        for value in line.split(","):
            uri = re.search(r"<([^>]*)>", value)
            expires = re.search(r";\s*expires=(\d+)", value)
            assert uri and expires, f"Contact without <uri> and expires: {value!r}"
            found[uri[1]] = int(expires[1])
    return found


class Registrant:
    """REGISTERs for one address of record, sent from a UDP probe.

    Each request gets the next CSeq of one Call-ID (RFC 3261 §10.2.4), as a phone
    refreshing its registration would; the answer is matched by CSeq.
    """

    _call_ids = itertools.count(1)

    def __init__(
        self,
        probe: UdpProbe,
        proxy: ProxyProcess,
        *,
        aor_user: str = ALICE,
        username: str = ALICE,
        password: str = ALICE_PASSWORD,
        request_uri: str = f"sip:{DOMAIN}",
    ) -> None:
        self.probe = probe
        self.proxy = proxy
        self.aor = f"sip:{aor_user}@{DOMAIN}"
        self.username = username
        self.password = password
        self.request_uri = request_uri
        self.call_id = f"register-{next(self._call_ids)}@{probe.endpoint.host}"
        self._cseq = itertools.count(1)

    def send(
        self,
        *,
        contact: str | None = None,
        expires: int | None = None,
        authorization: str | None = None,
    ) -> TracedMessage:
        """Send one REGISTER and return its final answer."""
        cseq = next(self._cseq)
        headers = {
            "From": f"<{self.aor}>;tag=registrant",
            "To": f"<{self.aor}>",
            "Call-ID": self.call_id,
            "CSeq": f"{cseq} REGISTER",
            "Contact": f"<{contact}>" if contact else "",
            "Expires": "" if expires is None else str(expires),
            "Authorization": authorization or "",
        }
        text = request_text("REGISTER", self.proxy.endpoint, self.probe.endpoint,
                            branch=f"z9hG4bK-{self.call_id}-{cseq}", headers=headers,
                            uri=self.request_uri)
        self.probe.send(text, self.proxy.endpoint)
        answer = self.probe.first(
            lambda m: not m.is_request and m.status >= 200
            and m.header("CSeq") == f"{cseq} REGISTER", ANSWER_TIMEOUT)
        assert answer is not None, f"no answer to REGISTER CSeq {cseq} from {self.probe.endpoint}"
        return answer

    def challenge(self, **fields: Any) -> TracedMessage:
        """A REGISTER without credentials; fails unless it is answered 401."""
        answer = self.send(**fields)
        assert answer.status == 401, f"expected 401 Unauthorized:\n{answer.text}"
        return answer

    def answer(self, challenge: TracedMessage, *, algorithm: str = "MD5",
               password: str | None = None) -> str:
        """Authorization for the next REGISTER, computed from ``challenge``."""
        return credentials(offered(challenge, algorithm), username=self.username,
                           password=self.password if password is None else password,
                           method="REGISTER", uri=self.request_uri)

    def register(self, *, contact: str | None = None, expires: int | None = None,
                 algorithm: str = "MD5") -> TracedMessage:
        """Challenge, then the same REGISTER with credentials; its final answer."""
        challenge = self.challenge(contact=contact, expires=expires)
        return self.send(contact=contact, expires=expires,
                         authorization=self.answer(challenge, algorithm=algorithm))

    def contacts(self) -> list[str]:
        """The current bindings: a REGISTER without Contact (RFC 3261 §10.2.3)."""
        answer = self.register()
        assert answer.status == 200, f"a query REGISTER was refused:\n{answer.text}"
        return contact_uris(answer)

    def wait_for(self, wanted: Callable[[list[str]], bool], timeout: float) -> list[str]:
        """Query until the bindings are ``wanted``; fails with the last list after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.contacts()
            if wanted(found) or time.monotonic() >= deadline:
                assert wanted(found), f"after {timeout}s the bindings of {self.aor} are {found}"
                return found
            time.sleep(0.2)


def register_with_sipp(
    sipp: SippLauncher, proxy: ProxyProcess, local: Endpoint, *, expires: int = REGISTER_EXPIRES,
    name: str = "register",
) -> SippResult:
    """SIPp registers Alice's contact ``sip:alice@LOCAL;transport=UDP`` (or removes
    it, with ``expires=0``) through ``proxy`` and exits; the result of the exchange."""
    process = sipp.uac(name, "uac_register.xml", remote=proxy.endpoint, service=ALICE,
                       local=local, keys={"domain": DOMAIN, "expires": str(expires)})
    result = process.wait()
    first = result.received_responses("REGISTER")
    if not result.passed and first and first[0].status == 401:
        algorithms = [c.algorithm for c in challenges(first[0])]
        assert algorithms[:1] == ["MD5"], (
            f"SIPp 3.6.1 answers only the first WWW-Authenticate and only MD5; the proxy "
            f"offered {algorithms}\n{result.report()}")
    result.assert_passed()
    return result


def sipp_contact(local: Endpoint) -> str:
    """The Contact URI ``uac_register.xml`` registers from ``local`` over UDP."""
    return f"sip:{ALICE}@{local};transport=UDP"
