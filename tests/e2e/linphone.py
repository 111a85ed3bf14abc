"""A registering linphonec (Debian's linphone-cli, liblinphone + belle-sip) on a
loopback address, for end-to-end tests.

linphonec gets a ``linphonerc`` of its own (``-c FILE``) and a HOME in the test's
directory (its databases go under ``~/.local/share/linphone``).  The file binds SIP
to the phone's endpoint over UDP only (``bind_address``, ``sip_port``; TCP and TLS
off), turns off network-state monitoring and video, and holds one account that
registers ``sip:USER@DOMAIN`` through the proxy (``reg_proxy`` and ``reg_route``)
with a clear-text password, so liblinphone can answer whatever digest algorithm
the challenge names.  No sound card is needed to register: liblinphone logs that it
found none and goes on.  linphonec reads commands on its standard input and quits at
its end, so the pipe stays open until :meth:`LinphonePhone.stop` writes ``quit``
(the account unregisters on the way out).  ``-d 6 -l FILE`` logs every SIP message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .loopback import Endpoint, is_bound, wait_until

# Generous: the wait ends as soon as the socket is bound, and on a fresh, loaded CI
# machine the first start (libraries and plugins from a cold disk) once took over 5 s.
_START_TIMEOUT = 20.0
_STOP_TIMEOUT = 5.0

_LINPHONERC = """\
[sip]
bind_address={host}
sip_port={port}
sip_tcp_port=0
sip_tls_port=0
use_ipv6=0
guess_hostname=0
ipv6_migration_done=1
contact=<sip:{user}@{endpoint}>
default_proxy=0

[net]
firewall_policy=0
auto_net_state_mon=0

[rtp]
audio_rtp_port={rtp_port}

[video]
capture=0
display=0

[proxy_0]
reg_proxy=<sip:{proxy};transport=udp>
reg_route=<sip:{proxy};transport=udp;lr>
reg_identity=sip:{user}@{domain}
reg_expires={expires}
reg_sendregister=1
publish=0

[auth_info_0]
username={auth_user}
passwd={auth_pass}
realm={realm}
domain={domain}
"""


class LinphonePhone:
    """A running linphonec registering ``sip:USER@DOMAIN`` through ``proxy``."""

    def __init__(
        self,
        user: str,
        endpoint: Endpoint,
        workdir: Path,
        *,
        domain: str,
        realm: str,
        proxy: Endpoint,
        auth_user: str,
        auth_pass: str,
        expires: int = 600,
    ):
        self.user = user
        self.endpoint = endpoint
        home = workdir / "home"
        (home / ".local" / "share" / "linphone").mkdir(parents=True)
        config = workdir / "linphonerc"
        config.write_text(_LINPHONERC.format(
            host=endpoint.host, port=endpoint.port, endpoint=endpoint, user=user,
            rtp_port=endpoint.port + 10000, proxy=proxy, domain=domain, realm=realm,
            expires=expires, auth_user=auth_user, auth_pass=auth_pass,
        ))
        self.log_path = workdir / "linphonec.log"
        self._stdout_path = workdir / "linphonec.stdout"
        binary = shutil.which("linphonec")
        assert binary, "linphonec is not installed (Debian package linphone-cli)"
        environment = {**os.environ, "HOME": str(home)}
        with self._stdout_path.open("wb") as stdout:
            self._process = subprocess.Popen(
                [binary, "-c", str(config), "-d", "6", "-l", str(self.log_path)],
                stdin=subprocess.PIPE,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                env=environment,
            )

    @property
    def contact(self) -> str:
        """The Contact URI linphonec registers (belle-sip leaves out the default port)."""
        address = self.endpoint.host if self.endpoint.port == 5060 else str(self.endpoint)
        return f"sip:{self.user}@{address};transport=udp"

    def wait_listening(self) -> None:
        """Block until linphonec's UDP SIP socket is bound; fail with its log otherwise."""
        bound = wait_until(
            lambda: is_bound(self.endpoint, "udp") or self._process.poll() is not None,
            _START_TIMEOUT,
        )
        if not bound or self._process.poll() is not None:
            raise AssertionError(f"linphonec did not start on {self.endpoint}:\n{self.report()}")

    def registered(self) -> bool:
        """Whether liblinphone logged that the account's registration succeeded."""
        return "to [LinphoneRegistrationOk]" in self.log()

    def log(self) -> str:
        """liblinphone's log so far (every SIP message sent and received)."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Say ``quit`` on its standard input; SIGKILL if it lingers."""
        if self._process.poll() is None:
            try:
                assert self._process.stdin is not None
                self._process.stdin.write(b"quit\n")
                self._process.stdin.close()
                self._process.wait(_STOP_TIMEOUT)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()

    def report(self) -> str:
        """linphonec's output and log, for a failed test."""
        stdout = self._stdout_path.read_text(encoding="utf-8", errors="replace")
        return (f"linphonec {self.contact}, exit code {self._process.poll()}\n"
                f"stdout:\n{stdout}\nlog:\n{self.log()}")
