"""An auto-answering baresip phone on a loopback address, for end-to-end tests.

baresip gets a configuration directory of its own (``-f DIR``) holding a
config, one account and no contacts.  The account has ``answermode=auto`` so
the phone answers every call.  By default it has ``regint=0`` and never
registers; with a :class:`Registration` it registers its address of record
through the proxy (``outbound``) with digest credentials (``auth_user``,
``auth_pass``) every ``regint`` seconds, over UDP or TCP.  Audio
goes through the ``aubridge`` module (a virtual device, no sound card needed):
this Debian build ships no null audio driver, and ``ausine`` only runs at
48 kHz, which G.711 calls do not use.  baresip quits by itself after
``lifetime`` seconds (``-t``) and is killed at the end of the test anyway.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .loopback import Endpoint, Transport, is_bound, wait_until

MODULE_PATH = Path("/usr/lib/baresip/modules")
# Generous: the wait ends as soon as the socket is bound, and on a fresh, loaded CI
# machine the first start (libraries and plugins from a cold disk) once took over 5 s.
_START_TIMEOUT = 20.0

_CONFIG = """\
poll_method\t\tepoll
sip_listen\t\t{endpoint}
net_interface\t\t{host}
call_local_timeout\t30
call_max_calls\t\t1
audio_player\t\taubridge,{user}
audio_source\t\taubridge,{user}
audio_alert\t\taubridge,{user}
rtp_ports\t\t{rtp_low}-{rtp_high}
module_path\t\t{module_path}
module\t\t\tg711.so
module\t\t\taubridge.so
module_tmp\t\taccount.so
"""


@dataclass(frozen=True)
class Registration:
    """How a phone registers: ``sip:USER@DOMAIN`` through the proxy at ``proxy``."""

    domain: str
    proxy: Endpoint
    auth_user: str
    auth_pass: str
    transport: Transport = "udp"
    regint: int = 600  # seconds; the registrar's minimum is 60

    def account(self, user: str) -> str:
        """The baresip account line: the AOR, credentials, and the proxy as outbound
        proxy (baresip adds the Route with ``;lr``); every call is answered."""
        suffix = ";transport=tcp" if self.transport == "tcp" else ""
        return (
            f"<sip:{user}@{self.domain}{suffix}>;auth_user={self.auth_user};"
            f'auth_pass={self.auth_pass};outbound="sip:{self.proxy}{suffix}";'
            f"regint={self.regint};answermode=auto"
        )


class BaresipPhone:
    """A running baresip that answers every call to ``sip:USER@HOST:PORT`` (or, with a
    ``registration``, to whatever contact it registered)."""

    def __init__(
        self,
        user: str,
        endpoint: Endpoint,
        config_dir: Path,
        lifetime: int = 60,
        registration: Registration | None = None,
    ):
        self.user = user
        self.endpoint = endpoint
        config_dir.mkdir(parents=True)
        (config_dir / "config").write_text(
            _CONFIG.format(
                endpoint=endpoint,
                host=endpoint.host,
                user=user,
                rtp_low=endpoint.port + 10000,
                rtp_high=endpoint.port + 10100,
                module_path=MODULE_PATH,
            )
        )
        account = (
            registration.account(user)
            if registration is not None
            else f"<{endpoint.sip_uri(user)}>;regint=0;answermode=auto"
        )
        (config_dir / "accounts").write_text(account + "\n")
        (config_dir / "contacts").write_text("")
        self.log_path = config_dir / "output.log"
        binary = shutil.which("baresip")
        assert binary, "baresip is not installed (Debian package baresip-core)"
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [binary, "-f", str(config_dir), "-t", str(lifetime)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def uri(self) -> str:
        """The phone's SIP URI."""
        return self.endpoint.sip_uri(self.user)

    def wait_listening(self) -> None:
        """Block until baresip's UDP SIP socket is bound; fail with its output otherwise."""
        bound = wait_until(
            lambda: is_bound(self.endpoint, "udp") or self._process.poll() is not None,
            _START_TIMEOUT,
        )
        if not bound or self._process.poll() is not None:
            raise AssertionError(f"baresip did not start on {self.endpoint}:\n{self.output()}")

    def output(self) -> str:
        """What baresip printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Stop baresip: SIGTERM, then SIGKILL if it lingers."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(3.0)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def report(self) -> str:
        """baresip's output, for a failed test."""
        return f"baresip {self.uri}, exit code {self._process.poll()}\n{self.output()}"
