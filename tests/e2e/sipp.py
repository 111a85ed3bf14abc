"""Run SIPp callers and callees as real processes, bounded in time.

Each SIPp process plays one scenario from ``scenarios/`` for exactly one call
(``-m 1``), gives up after its own global timeout (``-timeout`` with
``-timeout_error``, so a hang is a failure, not a pass), and logs every message
it sent or received (``-trace_msg``) plus every unexpected one (``-trace_err``)
into the test's temporary directory.  A callee (UAS) is started first and only
handed out once its socket is bound; a caller (UAC) is started afterwards.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .loopback import Endpoint, LoopbackAllocator, Transport, is_bound, wait_until
from .sip_trace import Direction, TracedMessage, read_trace

SCENARIOS = Path(__file__).resolve().parent / "scenarios"

# SIPp's transport modes: one socket for every call, UDP or TCP.
_TRANSPORT_MODE: Mapping[Transport, str] = {"udp": "u1", "tcp": "t1"}

# Keys every caller scenario reads; a test overrides what it cares about.
DEFAULT_CALLER_KEYS: Mapping[str, str] = {
    "caller": "sipp",
    "caller_name": "SIPp Caller",
    "extra_header": "Subject: vipproxy end-to-end test",
}

# How long SIPp may take to bind its socket before we call the start failed: the
# wait ends when it binds, so a loaded CI machine's slow first start costs nothing.
_BIND_TIMEOUT = 20.0
# Extra time we give a SIPp process beyond its own -timeout before killing it.
_EXIT_MARGIN = 5.0
# How long callees may still run once the caller has failed.
_LOSER_GRACE = 1.0


@dataclass(frozen=True)
class SippResult:
    """What one SIPp process did: its exit code and the messages it logged."""

    name: str
    returncode: int
    messages: tuple[TracedMessage, ...]
    unexpected: str
    output: str

    @property
    def passed(self) -> bool:
        """SIPp exits 0 when every call (here: the one call) succeeded."""
        return self.returncode == 0

    def received(self, method: str | None = None) -> list[TracedMessage]:
        """Received messages, only requests of ``method`` when one is given.

        Like every query here it counts a retransmission once; ``messages`` and
        ``flow()`` still show every copy.
        """
        return _received(self.messages, method)

    def received_responses(self, method: str) -> list[TracedMessage]:
        """Received responses whose CSeq method is ``method``."""
        return [
            message
            for message in _first_copies(self.messages, "received")
            if not message.is_request and message.method == method
        ]

    def sent(self, method: str) -> list[TracedMessage]:
        """Requests of ``method`` this SIPp process sent."""
        return [
            message
            for message in _first_copies(self.messages, "sent")
            if message.is_request and message.method == method
        ]

    def final_responses(self, method: str = "INVITE") -> list[TracedMessage]:
        """Every final response received for ``method``."""
        return [m for m in self.received_responses(method) if m.status >= 200]

    def final_status(self, method: str = "INVITE") -> int:
        """Status code of the last final response received for ``method`` (0 if none)."""
        finals = self.final_responses(method)
        return finals[-1].status if finals else 0

    def flow(self) -> str:
        """One line per logged message: direction, transport and start line."""
        arrows = {"sent": "-->", "received": "<--"}
        return "\n".join(
            f"  {arrows[m.direction]} {m.transport} {m.start_line}" for m in self.messages
        )

    def report(self) -> str:
        """Everything a person needs to see why this SIPp process failed."""
        return (
            f"SIPp {self.name!r} exited {self.returncode}\n"
            f"message flow:\n{self.flow() or '  (none)'}\n"
            f"unexpected messages (-trace_err):\n{self.unexpected.strip() or '  (none)'}\n"
            f"output (tail):\n{_tail(self.output, 40)}"
        )

    def assert_passed(self) -> None:
        """Fail the test with the full SIPp report unless the scenario succeeded."""
        assert self.passed, self.report()


def assert_all_passed(*results: SippResult) -> None:
    """Every SIPp scenario succeeded; the report of the first failure otherwise."""
    for result in results:
        result.assert_passed()


class SippProcess:
    """A running SIPp process; ``wait()`` turns it into a :class:`SippResult`."""

    def __init__(
        self,
        name: str,
        command: list[str],
        workdir: Path,
        timeout: float,
        endpoint: Endpoint,
        transport: Transport,
    ) -> None:
        self.name = name
        self.command = command
        self.endpoint = endpoint
        self.transport = transport
        self._timeout = timeout
        self._messages_log = workdir / f"{name}.messages.log"
        self._errors_log = workdir / f"{name}.errors.log"
        self._output_log = workdir / f"{name}.output.log"
        self._result: SippResult | None = None
        with self._output_log.open("wb") as output:
            self._process = subprocess.Popen(
                [
                    *command,
                    "-trace_msg",
                    "-message_file",
                    str(self._messages_log),
                    "-trace_err",
                    "-error_file",
                    str(self._errors_log),
                ],
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def uri(self, user: str) -> str:
        """A SIP URI for ``user`` at this SIPp process, over its transport."""
        return self.endpoint.sip_uri(user, self.transport)

    def running(self) -> bool:
        """Whether the process has not exited yet."""
        return self._process.poll() is None

    def received_so_far(self, method: str) -> list[TracedMessage]:
        """Requests of ``method`` received until now (SIPp flushes its trace per message)."""
        return _received(read_trace(self._messages_log), method)

    def wait(self) -> SippResult:
        """Wait for SIPp to finish (killing it past its timeout) and read its logs."""
        if self._result is None:
            try:
                returncode = self._process.wait(self._timeout + _EXIT_MARGIN)
            except subprocess.TimeoutExpired:
                self.stop()
                returncode = self._process.wait()
            self._result = SippResult(
                name=self.name,
                returncode=returncode,
                messages=tuple(read_trace(self._messages_log)),
                unexpected=_read(self._errors_log),
                output=_read(self._output_log),
            )
        return self._result

    def stop(self) -> None:
        """Terminate SIPp if it still runs (SIGTERM, then SIGKILL)."""
        if self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(2.0)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def report(self) -> str:
        """The SIPp report, stopping the process first if needed."""
        self.stop()
        return self.wait().report()


class SippLauncher:
    """Starts SIPp callers and callees for one test and stops whatever is left."""

    def __init__(self, workdir: Path, allocator: LoopbackAllocator) -> None:
        self._workdir = workdir
        self._allocator = allocator
        self.processes: list[SippProcess] = []
        binary = shutil.which("sipp")
        assert binary, "sipp is not installed (Debian package sip-tester)"
        self._binary = binary

    def uas(
        self,
        name: str,
        scenario: str,
        *,
        transport: Transport = "udp",
        keys: Mapping[str, str] | None = None,
        fill: Mapping[str, str] | None = None,
        pause_ms: int = 0,
        timeout: float = 15.0,
        local: Endpoint | None = None,
        calls: int = 1,
    ) -> SippProcess:
        """Start a callee on a fresh loopback endpoint; return once it listens there.

        ``keys`` become SIPp ``-key`` keywords; ``fill`` fills the ``{{name}}``
        placeholders of a template scenario where SIPp accepts no keyword.
        ``local`` is the endpoint when the test chose it (where a phone registered).
        ``calls`` is how many calls it takes before it exits.
        """
        endpoint = local or self._allocator.endpoint()
        path = self._scenario_path(name, scenario, fill or {})
        process = self._start(
            name, path, endpoint, transport, keys or {}, {}, pause_ms, timeout, [], calls
        )
        bound = wait_until(
            lambda: is_bound(endpoint, transport) or not process.running(), _BIND_TIMEOUT
        )
        if not bound:
            raise AssertionError(f"SIPp {name!r} did not bind {endpoint}:\n{process.report()}")
        if not process.running():
            raise AssertionError(f"SIPp {name!r} exited at start:\n{process.report()}")
        return process

    def uac(
        self,
        name: str,
        scenario: str,
        *,
        remote: Endpoint,
        service: str,
        transport: Transport = "udp",
        keys: Mapping[str, str] | None = None,
        variables: Mapping[str, str] | None = None,
        pause_ms: int = 0,
        timeout: float = 10.0,
        local: Endpoint | None = None,
        credentials: tuple[str, str] | None = None,
        auth_uri: str | None = None,
        call_id: str | None = None,
        out_of_call: str | None = None,
    ) -> SippProcess:
        """Start a caller that places one call to ``service`` via ``remote``.

        ``local`` is the caller's own endpoint when the test must know it in
        advance (a trusted-peer address); a fresh one otherwise. ``credentials``
        (username, password) answer digest challenges where the scenario writes
        a bare ``[authentication]``; SIPp digests the URI ``sip:REMOTE`` unless
        ``auth_uri`` names the Request-URI the scenario sends (without ``sip:``,
        which SIPp puts in front). ``call_id`` is the call's Call-ID (``-cid_str``)
        when the test must know it. ``out_of_call`` is the scenario SIPp plays for
        a request of another dialog sent to the caller (``-oocsf``): an INVITE
        with Replaces that picks the call up.
        """
        endpoint = local or self._allocator.endpoint()
        options = ["-au", credentials[0], "-ap", credentials[1]] if credentials else []
        options += ["-auth_uri", auth_uri] if auth_uri else []
        options += ["-cid_str", call_id] if call_id is not None else []
        options += ["-oocsf", str(SCENARIOS / out_of_call)] if out_of_call else []
        return self._start(
            name,
            SCENARIOS / scenario,
            endpoint,
            transport,
            {**DEFAULT_CALLER_KEYS, **(keys or {})},
            variables or {},
            pause_ms,
            timeout,
            [*options, "-s", service, str(remote)],
        )

    def _start(
        self,
        name: str,
        scenario: Path,
        endpoint: Endpoint,
        transport: Transport,
        keys: Mapping[str, str],
        variables: Mapping[str, str],
        pause_ms: int,
        timeout: float,
        tail: list[str],
        calls: int = 1,
    ) -> SippProcess:
        command = [
            self._binary,
            "-sf",
            str(scenario),
            "-i",
            endpoint.host,
            "-p",
            str(endpoint.port),
            "-t",
            _TRANSPORT_MODE[transport],
            "-m",
            str(calls),
            "-d",
            str(pause_ms),
            "-timeout",
            f"{max(1, round(timeout))}s",
            "-timeout_error",
            "-nostdin",
        ]
        for key, value in keys.items():
            command += ["-key", key, value]
        for variable, value in variables.items():
            command += ["-set", variable, value]
        process = SippProcess(name, command + tail, self._workdir, timeout, endpoint, transport)
        self.processes.append(process)
        return process

    def _scenario_path(self, name: str, scenario: str, fill: Mapping[str, str]) -> Path:
        template = SCENARIOS / scenario
        if not fill:
            return template
        text = template.read_text()
        for placeholder, value in fill.items():
            text = text.replace("{{" + placeholder + "}}", value)
        assert "{{" not in text, f"{scenario}: placeholders left unfilled by {dict(fill)}"
        rendered = self._workdir / f"{name}.{scenario}"
        rendered.write_text(text)
        return rendered

    def finish(self, caller: SippProcess, *callees: SippProcess) -> tuple[SippResult, ...]:
        """Wait for the caller, then the callees; results in that order.

        When the caller failed, the test fails anyway: callees get a moment to
        log what they saw and are then stopped instead of waiting out their
        own timeouts.
        """
        first = caller.wait()
        if not first.passed:
            wait_until(lambda: not any(callee.running() for callee in callees), _LOSER_GRACE)
            for callee in callees:
                callee.stop()
        return (first, *(callee.wait() for callee in callees))

    def stop_all(self) -> None:
        """Stop every SIPp process this launcher started that still runs."""
        for process in self.processes:
            process.stop()

    def report(self) -> str:
        """The reports of every SIPp process, stopping those still running."""
        return "\n\n".join(process.report() for process in self.processes) or "(no SIPp started)"


def _received(messages: Iterable[TracedMessage], method: str | None) -> list[TracedMessage]:
    return [
        message
        for message in _first_copies(messages, "received")
        if method is None or (message.is_request and message.method == method)
    ]


def _first_copies(messages: Iterable[TracedMessage], direction: Direction) -> list[TracedMessage]:
    """The messages of ``direction``, each byte-identical repeat dropped.

    Over UDP a stall of T1 (500 ms in these tests) on a loaded machine makes SIPp
    or the proxy retransmit a request or final response (RFC 3261 §17), and SIPp
    logs every copy. A retransmission is the same message, not a second one, so
    the tests count it once.
    """
    seen: set[str] = set()
    first: list[TracedMessage] = []
    for message in messages:
        if message.direction == direction and message.text not in seen:
            seen.add(message.text)
            first.append(message)
    return first


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:]) or "  (none)"
