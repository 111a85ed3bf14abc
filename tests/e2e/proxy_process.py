"""Start the real vipproxy process for an end-to-end test, and always stop it.

The proxy runs as ``python -m proxy run --config FILE`` from the checkout, with
a YAML file written into the test's temporary directory.  It counts as started
once the kernel shows its UDP and TCP sockets bound (``/proc/net``); if it
exits first or takes too long, the test fails with its stderr.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .loopback import Endpoint, Transport, is_bound, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]

# Short SIP timers keep failure cases quick; Timer C keeps its RFC minimum.
TEST_TIMERS: Mapping[str, str] = {"t1": "500ms", "t2": "4s", "t4": "5s"}
SHUTDOWN_GRACE_SECONDS = 2.0
# The wait ends once both listeners are bound (or the process exits), so only a slow
# first start on a loaded CI machine gets near it.
_START_TIMEOUT = 20.0
# Time past the grace period we wait after SIGTERM before SIGKILL.
_STOP_MARGIN = 5.0


def proxy_config(
    listen: Endpoint,
    routes: Mapping[str, Any],
    directory: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A proxy configuration listening on ``listen`` over UDP and TCP.

    ``routes`` is the static ``routes:`` table; ``directory`` adds the issue-3
    sections (``users``, ``delegations``, ``trusted_peers``, ``numbering``).
    """
    return {
        "listen": [
            {"transport": "udp", "host": listen.host, "port": listen.port},
            {"transport": "tcp", "host": listen.host, "port": listen.port},
        ],
        "timers": dict(TEST_TIMERS),
        "shutdown_grace": f"{SHUTDOWN_GRACE_SECONDS:g}s",
        "logging": {"level": "info", "format": "json"},
        "routes": dict(routes),
        # Test callers come from loopback addresses nobody configured: they may call
        # lines and routes (the security tests set ``refuse`` where they need it).
        "untrusted_calls": "local_lines",
        **(directory or {}),
    }


class ProxyProcess:
    """One running vipproxy, its configuration file and its stderr log."""

    def __init__(self, name: str, config: Mapping[str, Any], endpoint: Endpoint, workdir: Path):
        self.name = name
        self.endpoint = endpoint
        self.config_path = workdir / f"{name}.yaml"
        self.log_path = workdir / f"{name}.stderr.log"
        # Each proxy keeps its state (the route-token secret) in the test's directory
        # unless the test shares one between proxies (a restart).
        config = {"state_dir": str(workdir / f"{name}-state"), **config}
        self.config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT), *filter(None, [environment.get("PYTHONPATH")])]
        )
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "proxy", "run", "--config", str(self.config_path)],
                cwd=REPO_ROOT,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.returncode: int | None = None

    def wait_listening(self) -> None:
        """Block until the UDP and TCP listeners are bound; fail with stderr otherwise."""
        listening = wait_until(
            lambda: (self._bound("udp") and self._bound("tcp")) or self._process.poll() is not None,
            _START_TIMEOUT,
        )
        if self._process.poll() is not None:
            raise AssertionError(
                f"vipproxy exited with {self._process.returncode} at start:\n{self.stderr()}"
            )
        if not listening:
            raise AssertionError(
                f"vipproxy did not bind {self.endpoint} (udp+tcp) within {_START_TIMEOUT}s:\n"
                f"{self.stderr()}"
            )

    def _bound(self, transport: Transport) -> bool:
        return is_bound(self.endpoint, transport)

    def uri(self, user: str, transport: Transport = "udp") -> str:
        """A SIP URI for ``user`` at the proxy."""
        return self.endpoint.sip_uri(user, transport)

    def stderr(self) -> str:
        """Everything the proxy logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def events(self, name: str) -> list[dict[str, Any]]:
        """Every ``name`` event in the proxy's JSON log so far, oldest first."""
        found = []
        for line in self.stderr().splitlines():
            if f'"{name}"' in line and (event := json.loads(line)).get("event") == name:
                found.append(event)
        return found

    def running(self) -> bool:
        """Whether the process has not exited yet."""
        return self._process.poll() is None

    def configuration(self) -> dict[str, Any]:
        """The configuration file as it is now, to change and ``rewrite``."""
        loaded: dict[str, Any] = yaml.safe_load(self.config_path.read_text())
        return loaded

    def rewrite(self, config: Mapping[str, Any] | str) -> None:
        """Replace the configuration file (the running proxy reads it on a reload)."""
        text = config if isinstance(config, str) else yaml.safe_dump(dict(config), sort_keys=False)
        self.config_path.write_text(text)

    def hang_up_signal(self) -> None:
        """Send SIGHUP: the proxy reads its configuration file again."""
        self._process.send_signal(signal.SIGHUP)

    def terminate(self) -> None:
        """Send SIGTERM and return at once: the proxy starts draining."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)

    def wait_exit(self) -> int:
        """Wait for the exit the grace period promises, SIGKILL past it; the exit code."""
        try:
            self._process.wait(SHUTDOWN_GRACE_SECONDS + _STOP_MARGIN)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self.returncode = self._process.returncode
        return self.returncode

    def stop(self) -> int:
        """SIGTERM, wait for the grace period to end, SIGKILL if needed; the exit code."""
        self.terminate()
        return self.wait_exit()

    def report(self) -> str:
        """The proxy's configuration and log, for a failed test."""
        return (
            f"vipproxy {self.name!r} on {self.endpoint}, exit code {self._process.poll()}\n"
            f"config:\n{self.config_path.read_text()}\nstderr:\n{self.stderr()}"
        )
