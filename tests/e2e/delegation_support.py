"""Helpers for the delegation end-to-end tests (issue 3) on top of the e2e harness.

- ``office(...)``: the directory sections (``users``, ``delegations``,
  ``trusted_peers``, ``numbering``) for Alice, her assistants and her mailbox,
  each pointing at a SIPp callee; passed as ``vipproxy(routes, directory=...)``.
- ``route_decisions(...)``: the ``route.decision`` events the proxy logged.
- ``vipproxy_cli(...)``: run ``vipproxy check`` (or ``explain``) as a subprocess.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from .proxy_process import REPO_ROOT, ProxyProcess
from .sip_trace import TracedMessage

# Alice is the delegator; her numbers are the lines the tests dial.
LINE = "1000"
LINES: Mapping[str, list[str]] = {
    "alice": ["+14155550100", LINE],
    "bob": ["1001"],
    "dana": ["1002"],
    "erin": ["1003"],
}
# Carol, Alice's VIP contact, written the way a person types it.
VIP_CONTACT_NUMBER = "+1 (415) 555-0199"
ANSWER_CALLS = ["answer_calls"]
# Bob, the assistant who answers for Alice.
ACCEPTED_ASSISTANT: Mapping[str, Mapping[str, Any]] = {
    "bob": {"privileges": ANSWER_CALLS, "status": "accepted"}
}
# Only the loopback address no SIPp process of the harness ever gets is trusted.
NOBODY_TRUSTED = ["127.0.0.1/32"]


def office(
    endpoints: Mapping[str, str],
    *,
    vip_callers: str,
    other_callers: str,
    ring_timeout: str = "1s",
    voicemail: str | None = None,
    delegates: Mapping[str, Mapping[str, Any]] = ACCEPTED_ASSISTANT,
    trusted_peers: Sequence[str] = NOBODY_TRUSTED,
) -> dict[str, Any]:
    """The directory sections: a user per entry of ``endpoints`` (id -> SIP URI),
    Alice delegating to ``delegates`` with Carol as her one VIP contact."""
    delegation: dict[str, Any] = {
        "delegates": {user: dict(entry) for user, entry in delegates.items()},
        "vip_delegation": {
            "enabled": True,
            "vip_callers": vip_callers,
            "other_callers": other_callers,
        },
        "vip_contacts": [
            {"first_name": "Carol", "last_name": "Ng", "numbers": [VIP_CONTACT_NUMBER]}
        ],
        "ring_timeout": ring_timeout,
    }
    if voicemail is not None:
        delegation["voicemail"] = voicemail
    return {
        "numbering": {"default_country_code": "1"},
        "trusted_peers": list(trusted_peers),
        "users": {
            user: {"name": user.title(), "lines": LINES[user], "endpoints": [uri],
                   # A phone that registers needs credentials (none registers here).
                   **({"auth": {"password": f"secret-of-{user}"}} if uri == "registered"
                      else {})}
            for user, uri in endpoints.items()
        },
        "delegations": {"alice": delegation},
    }


def route_decisions(proxy: ProxyProcess) -> list[dict[str, Any]]:
    """Every ``route.decision`` event in the proxy's JSON log, oldest first."""
    return proxy.events("route.decision")


def only_decision(proxy: ProxyProcess) -> dict[str, Any]:
    """The one ``route.decision`` event of a test that placed one call."""
    events = route_decisions(proxy)
    assert len(events) == 1, f"expected one route.decision, got {events}"
    return events[0]


def display_name(message: TracedMessage, header: str = "From") -> str:
    """The quoted display name of ``header`` (``"[VIP] Carol" <sip:...>``), or ""."""
    match = re.match(r'\s*"((?:[^"\\]|\\.)*)"', message.header(header))
    return match[1] if match else ""


def vipproxy_cli(*arguments: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    """Run ``vipproxy ARGUMENTS`` (as ``python -m proxy``) from the checkout."""
    return subprocess.run(
        [sys.executable, "-m", "proxy", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
