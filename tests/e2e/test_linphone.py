"""A real softphone registers with SHA-256 digest: Debian's linphonec (linphone-cli,
liblinphone 5.1 + belle-sip) answers a challenge that offers SHA-256 alone (RFC 8760)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from .conftest import StartProxy
from .linphone import LinphonePhone
from .loopback import wait_until
from .registration_support import ALICE, ALICE_PASSWORD, DOMAIN, REALM, registration_directory
from .test_registration import registrations_listed

pytestmark = pytest.mark.e2e


def test_linphone_registers_with_sha_256_digest(
    vipproxy: StartProxy, linphone: Callable[..., LinphonePhone]
) -> None:
    proxy = vipproxy({}, registration_directory(algorithms=["SHA-256"]))
    phone = linphone(ALICE, domain=DOMAIN, realm=REALM, proxy=proxy.endpoint,
                     auth_user=ALICE, auth_pass=ALICE_PASSWORD)

    assert wait_until(phone.registered, 10.0), phone.report()
    log = phone.log()
    # The challenge offered SHA-256 and nothing else, and linphonec answered it.
    offered = re.findall(r"WWW-Authenticate: Digest [^\r\n]*", log)
    assert offered and all("algorithm=SHA-256" in line for line in offered), offered
    assert "algorithm=MD5" not in log, log
    answers = re.findall(r"Authorization: +Digest [^\r\n]*", log)
    assert answers and all("algorithm=SHA-256" in line for line in answers), answers
    assert re.search(r'response="[0-9a-f]{64}"', answers[0]), answers  # a SHA-256 digest
    assert "SIP/2.0 200 OK" in log, log
    # The proxy challenged the first REGISTER once and let the answer through.
    refused = [(e["method"], e["status"]) for e in proxy.events("request.refused")]
    assert refused == [("REGISTER", 401)], proxy.stderr()
    # The binding is in the location table, as `vipproxy registrations` reads it, with
    # the address the REGISTER came from.
    binding = f"{phone.contact}  "
    assert wait_until(lambda: binding in registrations_listed(proxy), 3.0), (
        registrations_listed(proxy))
    assert f"from udp:{phone.endpoint}" in registrations_listed(proxy)
