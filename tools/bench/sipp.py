"""SIPp command lines for the bench's caller and callees, and their results.

The caller and the callee scenarios live in scenarios/. Every SIPp instance
writes its statistics (-trace_stat, one line a second and one at exit) and
errors (-trace_err) into the step's directory; the caller also writes its
response times (-trace_rtt), measured by the `ring`, `setup` and `bye` trackers
of caller.xml, and the outcome of each call, "ok N" or "shed N" (a 503), into
caller.outcomes.log (-trace_logs). SIPp counts a call stopped after a 503 as
successful, so the outcomes, not its counters, say which calls completed.
SIPp's clock moves in whole milliseconds, in practice in steps
of the kernel tick (4 ms on the machine this was written on), so response
times come in those steps.

A limit of SIPp as a callee: once it has answered, it aborts the call on a
retransmission of the INVITE (it neither resends its response nor ignores
it). So when the proxy's socket drops a callee's response and the proxy
retransmits its INVITE, as RFC 3261 §17.1.1.2 says it must, the call fails
here where a phone would answer again; the bench's UDP drops column shows
when that is happening. Retransmitted BYEs are answered (the answering
callee holds each call 2 s after the BYE for that).

With one socket per call (the caller's `socket_per_call`, SIPp's -t un), the
caller still binds its -p port (its main socket, which then sends nothing) and
places each call from a socket of its own, bound to the -i address and a port
the kernel picks from its ephemeral range (SIPp binds port 0; 32768-60999 on
Linux by default), closed when the call ends. [local_port] in caller.xml is
that call's port, so Via, Contact and the responses follow it. No port the
bench binds on purpose is in that range, and the caller is the last SIPp of a
step to start. The short traces, the response times and the outcomes are
written per call, whatever its socket.
"""

from __future__ import annotations

import csv
import math
import re
import resource
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_EVENT_START = re.compile(r"(?=\d{4}-\d{2}-\d{2}\t\d{2}:\d{2}:)")
_EVENT_CHARS = 400
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
CALLEE_SCENARIOS = {
    "answer": SCENARIOS / "callee_answer.xml",
    "busy": SCENARIOS / "callee_busy.xml",
    "cancelled": SCENARIOS / "callee_cancelled.xml",
}
REGISTER_SCENARIO = SCENARIOS / "register.xml"
WATCHER_SCENARIO = SCENARIOS / "watcher.xml"
# The watchers' socket buffer: as large as the proxy's own (RECEIVE_BUFFER_BYTES).
WATCHERS_BUFFER_BYTES = 4 * 1024 * 1024
# What callee B does in each variant of the call (a key of CALLEE_SCENARIOS).
VARIANTS = {"busy": "busy", "cancel": "cancelled"}
# The user part of the caller's From (caller.xml's [caller_user]) unless a step says.
CALLER_USER = "bench"
# With a socket per call, SIPp counts its main and control sockets among the
# -max_socket sockets it may open (and two to spare); its own files (traces,
# statistics, logs) need descriptors too, under the open-files limit it checks
# -max_socket against.
SIPP_OTHER_SOCKETS = 4
SIPP_OWN_FILES = 64


@dataclass(frozen=True)
class Endpoint:
    """A SIPp instance's SIP address and its control port."""

    host: str
    port: int
    control_port: int


@dataclass(frozen=True)
class CallCounts:
    """SIPp's cumulative call counters at its last statistics dump."""

    created: int
    successful: int
    failed: int = 0

    @property
    def unfinished(self) -> int:
        """Calls that did not end successfully: failed, or still open at the last dump."""
        return self.created - self.successful


def short_trace_path(workdir: Path, name: str) -> Path:
    """Where the SIPp `name` writes its short trace (-trace_shortmsg): one line per
    message sent or received, what the bench's invariants are checked from."""
    return workdir / f"{name}.short.log"


def _common_arguments(name: str, endpoint: Endpoint, workdir: Path, recv_timeout_ms: int,
                      trace_messages: bool, short_trace: bool = False) -> list[str]:
    arguments = [
        "sipp", "-nostdin", "-bind_local",
        "-i", endpoint.host, "-p", str(endpoint.port), "-cp", str(endpoint.control_port),
        "-recv_timeout", str(recv_timeout_ms),
        "-trace_stat", "-stf", str(workdir / f"{name}.stat.csv"), "-fd", "1",
        "-trace_err", "-error_file", str(workdir / f"{name}.errors.log"),
    ]
    if trace_messages:
        arguments += ["-trace_msg", "-message_file", str(workdir / f"{name}.messages.log")]
    if short_trace:
        arguments += ["-trace_shortmsg", "-shortmessage_file",
                      str(short_trace_path(workdir, name))]
    return arguments


def callee_command(name: str, behaviour: str, endpoint: Endpoint, calls: int,
                   answer_delay_ms: int, workdir: Path, recv_timeout_ms: int,
                   trace_messages: bool, short_trace: bool = False) -> list[str]:
    """A callee that handles `calls` INVITEs with `behaviour` (answer, busy, cancelled)
    and then exits. `answer_delay_ms` is the ring time of the answering callee; with
    `short_trace`, it writes the short trace at `short_trace_path`."""
    return [
        *_common_arguments(name, endpoint, workdir, recv_timeout_ms, trace_messages,
                           short_trace),
        "-sf", str(CALLEE_SCENARIOS[behaviour]), "-m", str(calls), "-d", str(answer_delay_ms),
    ]


def call_sockets(open_calls: int, open_files_limit: int | None = None) -> int:
    """SIPp's -max_socket for a caller with a socket per call and at most `open_calls`
    calls open at once: one socket each and SIPp's others, but no more than the
    open-files limit (this process's, which SIPp inherits, unless given) leaves
    beside SIPp's own files. SIPp refuses to start when -max_socket exceeds that
    limit (its default, 50000, does here); past -max_socket it places new calls on
    the sockets it has, in turn."""
    if open_files_limit is None:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        open_files_limit = None if soft == resource.RLIM_INFINITY else soft
    wanted = open_calls + SIPP_OTHER_SOCKETS
    return wanted if open_files_limit is None else min(wanted,
                                                        open_files_limit - SIPP_OWN_FILES)


def caller_command(endpoint: Endpoint, proxy: tuple[str, int], service: str, rate: int,
                   calls: int, hold_ms: int, workdir: Path, recv_timeout_ms: int,
                   trace_messages: bool, short_trace: bool = False,
                   caller_user: str = CALLER_USER, socket_per_call: bool = False) -> list[str]:
    """A caller placing `calls` calls to `service` via `proxy` at `rate` calls/s, each
    From `caller_user`; with `short_trace`, it writes the short trace at
    `short_trace_path`; with `socket_per_call`, each call from a UDP socket (and
    port) of its own (see the module's docstring), as calls from many phones come:
    a proxy whose processes share its port (SO_REUSEPORT) gets them spread by
    source port, where one socket would send every call to the same process."""
    # Calls open at once stay under rate x (hold + the slowest setup SIPp waits for).
    limit = 100 + rate * math.ceil((hold_ms + recv_timeout_ms) / 1000)
    sockets = (["-t", "un", "-max_socket", str(call_sockets(limit))] if socket_per_call
               else [])
    return [
        *_common_arguments("caller", endpoint, workdir, recv_timeout_ms, trace_messages,
                           short_trace),
        "-sf", str(SCENARIOS / "caller.xml"), "-s", service, "-key", "caller_user", caller_user,
        "-r", str(rate), "-m", str(calls), "-l", str(limit), "-d", str(hold_ms),
        *sockets,
        # SIPp writes response times in batches of -rtt_freq calls and drops a last
        # partial batch, so the batch size divides the number of calls.
        "-trace_rtt", "-rtt_freq", str(math.gcd(calls, 100)),
        "-trace_logs", "-log_file", str(workdir / "caller.outcomes.log"),
        f"{proxy[0]}:{proxy[1]}",
    ]


@dataclass(frozen=True)
class Credentials:
    """A user's id (also the digest username) and password."""

    user: str
    password: str


def write_users_file(path: Path, users: Sequence[Credentials]) -> Path:
    """A SIPp injection file (-inf) with one user a line: [field0] the user id,
    [field1] the password; SIPp gives each new call the next line."""
    lines = ["SEQUENTIAL", *(f"{user.user};{user.password};" for user in users)]
    path.write_text("\n".join(lines) + "\n")
    return path


def register_command(name: str, endpoint: Endpoint, proxy: tuple[str, int], users_file: Path,
                     users: int, rate: int, domain: str, expires: int, workdir: Path,
                     recv_timeout_ms: int, trace_messages: bool) -> list[str]:
    """A registrant at `endpoint` that registers the first `users` lines of `users_file`
    (scenarios/register.xml: REGISTER, 401, REGISTER with credentials, 200) through
    `proxy`, starting `rate` a second, each binding for `expires` seconds, then exits.

    Its outcomes ("ok USER") go to NAME.outcomes.log, its response times (the
    `challenge` and `register` trackers, each started as the user's first REGISTER
    is sent) to register_PID_rtt.csv in `workdir`.
    """
    return [
        *_common_arguments(name, endpoint, workdir, recv_timeout_ms, trace_messages),
        "-sf", str(REGISTER_SCENARIO), "-inf", str(users_file),
        "-key", "domain", domain, "-key", "expires", str(expires),
        "-r", str(rate), "-m", str(users), "-l", str(users),
        # Every user's times are written as they come: SIPp drops a last batch that
        # is not full, which would hide the last answers when some users fail.
        "-trace_rtt", "-rtt_freq", "1",
        "-trace_logs", "-log_file", str(workdir / f"{name}.outcomes.log"),
        f"{proxy[0]}:{proxy[1]}",
    ]


def watcher_command(name: str, endpoint: Endpoint, proxy: tuple[str, int], users_file: Path,
                    watchers: int, service: str, domain: str, expires: int,
                    workdir: Path) -> list[str]:
    """`watchers` busy-lamp subscriptions to the line `service`, all from `endpoint`
    as the first user of `users_file` (scenarios/watcher.xml: SUBSCRIBE, 401,
    SUBSCRIBE with credentials, 200, then NOTIFYs answered until SIPp is stopped).
    They start 100 a second; each "ok USER" line in NAME.outcomes.log is one that
    got its 200. No receive timeout: a quiet line sends no NOTIFY for a while."""
    return [
        "sipp", "-nostdin", "-bind_local",
        "-i", endpoint.host, "-p", str(endpoint.port), "-cp", str(endpoint.control_port),
        "-trace_err", "-error_file", str(workdir / f"{name}.errors.log"),
        "-sf", str(WATCHER_SCENARIO), "-inf", str(users_file), "-s", service,
        "-key", "domain", domain, "-key", "expires", str(expires),
        # SIPp digests over remote_ip:port unless told the Request-URI (RFC 3261 §22.4).
        "-auth_uri", f"{service}@{domain}",
        "-r", "100", "-m", str(watchers), "-l", str(watchers),
        # The watchers stand for as many phones, each with a socket of its own, but
        # share one: the NOTIFYs a line change sends them all at once must fit in
        # its buffer (SIPp's default, 64 KiB, holds about ten), not be dropped there.
        "-buff_size", str(WATCHERS_BUFFER_BYTES),
        "-trace_logs", "-log_file", str(workdir / f"{name}.outcomes.log"),
        f"{proxy[0]}:{proxy[1]}",
    ]


def read_answered(workdir: Path, name: str) -> list[str]:
    """The users whose REGISTER or SUBSCRIBE a SIPp saw answered 200 (its "ok USER"
    lines), one entry per request."""
    try:
        text = (workdir / f"{name}.outcomes.log").read_text(errors="replace")
    except FileNotFoundError:
        return []
    return [user for outcome, _, user in
            (line.strip().partition(" ") for line in text.splitlines())
            if outcome == "ok" and user]


def read_registered(workdir: Path, name: str) -> frozenset[str]:
    """The users a registrant saw answered 200."""
    return frozenset(read_answered(workdir, name))


def read_call_counts(stat_file: Path) -> CallCounts:
    """The cumulative counters from the last line of a -trace_stat CSV.

    SIPp adds a line every -fd seconds and one when it exits, SIGTERM included.
    """
    try:
        with stat_file.open(newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter=";"))
    except FileNotFoundError:
        return CallCounts(0, 0)
    if not rows:
        return CallCounts(0, 0)
    last = rows[-1]
    return CallCounts(
        created=int(last["TotalCallCreated"]),
        successful=int(last["SuccessfulCall(C)"]),
        failed=int(last["FailedCall(C)"]),
    )


@dataclass(frozen=True)
class Outcomes:
    """Call numbers (1, 2, ... in the order SIPp placed the calls) by outcome."""

    completed: frozenset[int]
    shed: frozenset[int]  # answered 503 by the proxy


def read_outcomes(workdir: Path) -> Outcomes:
    """The caller's "ok N" / "shed N" lines (caller.xml's log actions)."""
    completed: set[int] = set()
    shed: set[int] = set()
    try:
        text = (workdir / "caller.outcomes.log").read_text(errors="replace")
    except FileNotFoundError:
        return Outcomes(frozenset(), frozenset())
    for line in text.splitlines():
        outcome, _, number = line.strip().partition(" ")
        if number.isdigit():
            (completed if outcome == "ok" else shed if outcome == "shed" else set()).add(
                int(number))
    return Outcomes(frozenset(completed), frozenset(shed))


@dataclass(frozen=True)
class Measurement:
    """One response time of a -trace_rtt tracker, on the clock of the SIPp that took
    it (ms since that SIPp started)."""

    ended_ms: float  # when the response arrived (the Date_ms column)
    took_ms: float  # since the tracker started

    @property
    def started_ms(self) -> float:
        """When the tracker started: the request it times was sent."""
        return self.ended_ms - self.took_ms


def read_measurements(workdir: Path, scenario: str = "caller") -> dict[str, list[Measurement]]:
    """The measurements per tracker name, from the -trace_rtt CSV of the SIPp playing
    `scenario` (caller.xml unless said).

    SIPp names the file <scenario>_<pid>_rtt.csv in its working directory; its
    Date_ms column is the time the tracker stopped, counted from that SIPp's start.
    """
    measured: dict[str, list[Measurement]] = {}
    for rtt_file in workdir.glob(f"{scenario}_*_rtt.csv"):
        with rtt_file.open(newline="") as handle:
            for row in csv.DictReader(handle, delimiter=";"):
                measured.setdefault(row["rtd_no"], []).append(
                    Measurement(float(row["Date_ms"]), float(row["response_time_ms"])))
    return measured


def read_response_times(workdir: Path, window_ms: tuple[float, float] | None = None,
                        scenario: str = "caller") -> dict[str, list[float]]:
    """Response times in ms per tracker name (see `read_measurements`); with
    `window_ms`, only those measured in that span of the SIPp's clock."""
    return {name: [m.took_ms for m in measurements
                   if window_ms is None or window_ms[0] <= m.ended_ms < window_ms[1]]
            for name, measurements in read_measurements(workdir, scenario).items()}


def percentile(values: list[float], percent: float) -> float | None:
    """Nearest-rank percentile: the smallest value with `percent`% of values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def error_lines(workdir: Path, name: str, limit: int) -> list[str]:
    """The first `limit` events of an instance's -trace_err log."""
    try:
        text = (workdir / f"{name}.errors.log").read_text(errors="replace")
    except FileNotFoundError:
        return []
    # SIPp writes its events without line breaks between them; each starts with a date.
    events = [
        " | ".join(line.strip() for line in event.splitlines() if line.strip())
        for event in _EVENT_START.split(text)[1:]
    ]
    return [event[:_EVENT_CHARS] for event in events if event][:limit]
