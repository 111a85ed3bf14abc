"""What a reload applies now and what waits for a restart (proxy.config.reload)."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.config.loader import ProxyConfig, validate_document
from proxy.config.reload import live_config, restart_needed


def document(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "listen": [{"transport": "udp", "host": "127.0.0.1", "port": 5060}],
        "users": {
            "alice": {"lines": ["1000"], "endpoints": ["sip:alice@127.0.0.10"]},
            "bob": {"lines": ["1001"], "endpoints": ["sip:bob@127.0.0.11"]},
        },
        "delegations": {"alice": {"delegates": {
            "bob": {"privileges": ["answer_calls"], "status": "accepted"}}}},
    }
    return {**base, **changes}


def config(**changes: Any) -> ProxyConfig:
    return validate_document(document(**changes), {})


def test_a_directory_change_applies_whole() -> None:
    running = config()
    new = config(users={**document()["users"],
                        "dana": {"lines": ["1002"], "endpoints": ["sip:dana@127.0.0.12"]}},
                 untrusted_calls="local_lines")
    assert restart_needed(running, new) == ()
    applied = live_config(running, new)
    assert "dana" in applied.directory.users
    assert applied.untrusted_calls == new.untrusted_calls


@pytest.mark.parametrize(("changes", "section"), [
    ({"listen": [{"transport": "udp", "host": "127.0.0.1", "port": 5070}]}, "listen"),
    ({"store": {"url": "postgresql+asyncpg://proxy@127.0.0.1/vip"}}, "store"),
    ({"state_dir": "/tmp/elsewhere"}, "state_dir"),
    ({"timers": {"t1": "1s"}}, "timers"),
    ({"logging": {"level": "debug"}}, "logging"),
    ({"auth": {"realm": "example.org"}}, "auth"),
])
def test_a_start_up_setting_keeps_its_running_value_and_says_so(
    changes: dict[str, Any], section: str
) -> None:
    running = config()
    new = config(**changes)
    assert restart_needed(running, new) == (f"{section}: changed; takes effect after a restart",)
    assert live_config(running, new) == running


def test_services_the_running_proxy_never_started_wait_for_a_restart() -> None:
    running = config()
    users = document()["users"]
    new = config(users={**users, "bob": {"lines": ["1001"], "endpoints": ["registered"],
                                         "auth": {"password": "secret"}}})
    reasons = restart_needed(running, new)
    assert [reason.split(":")[0] for reason in reasons] == ["users", "users"]
    assert "registrar" in reasons[0] and "authentication" in reasons[1]


def test_a_new_host_name_is_resolved_only_at_start() -> None:
    running = config()
    new = config(routes={"2000": {"stages": [{"targets": ["sip:desk@pbx.example.org"]}]}})
    assert restart_needed(running, new) == (
        "routes: new host names (pbx.example.org) are resolved after a restart",)
