"""Start, watch and stop the processes of a bench run; read their CPU time.

Every process is started in a session of its own, so a Ctrl-C typed at the
terminal reaches only the bench, which then stops what it started, by pid and
process group, in reverse order of start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ProcessFailed(RuntimeError):
    """A process the bench needs exited early or never became ready."""


class ManagedProcess:
    """One child process with its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], cwd: Path, log_path: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.cwd = cwd
        self.log_path = log_path
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The pid of the started process (which leads its own process group)."""
        if self._popen is None:
            raise ProcessFailed(f"{self.name} was never started")
        return self._popen.pid

    def start(self, cpus: frozenset[int] | None = None) -> None:
        """Start the process, on ``cpus`` only when given (its children too);
        stdout and stderr go to the log file."""
        with self.log_path.open("wb") as log:
            self._popen = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=None if cpus is None else lambda: os.sched_setaffinity(0, cpus),
            )

    def exit_code(self) -> int | None:
        """The exit code, or None while it runs."""
        return None if self._popen is None else self._popen.poll()

    def wait(self, timeout: float) -> int | None:
        """Wait up to `timeout` seconds for the exit; the exit code or None."""
        if self._popen is None:
            return None
        try:
            return self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace: float) -> None:
        """SIGTERM, up to `grace` seconds to exit, then SIGKILL for the whole group.

        The group kill also catches workers a daemon forked (Kamailio's children).
        """
        if self._popen is None:
            return
        if self._popen.poll() is None:
            self._popen.send_signal(signal.SIGTERM)
            self.wait(grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._popen.pid, signal.SIGKILL)
        self.wait(grace)

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the process's output, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class CpuSplit:
    """The proxy under test on some CPUs, the load (SIPp) on the others, so that a
    proxy near capacity does not lose CPU to the processes that load it: on a
    2-core machine, an overloaded SIPp caller otherwise takes a share of the
    proxy's core, and the proxy's capacity moves with the offered rate."""

    proxy: frozenset[int]
    load: frozenset[int]

    @classmethod
    def of_this_machine(cls, proxy_cpus: int = 1) -> CpuSplit:
        """The last `proxy_cpus` CPUs this process may use for the proxy (one per
        worker process), the rest for the load."""
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) <= proxy_cpus:
            raise ValueError(f"--pin needs at least {proxy_cpus + 1} CPUs")
        return cls(frozenset(cpus[-proxy_cpus:]), frozenset(cpus[:-proxy_cpus]))


class ProcessSet:
    """A context manager that stops every process it started, newest first."""

    def __init__(self, grace: float, split: CpuSplit | None = None) -> None:
        self._grace = grace
        self._split = split
        self._running: list[ManagedProcess] = []

    def __enter__(self) -> ProcessSet:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    def start(self, process: ManagedProcess, *, proxy: bool = False) -> ManagedProcess:
        """Start `process` (the proxy under test when `proxy`, else load) and
        remember it for `stop_all`."""
        if self._split is None:
            process.start()
        else:
            process.start(self._split.proxy if proxy else self._split.load)
        self._running.append(process)
        return process

    def stop(self, process: ManagedProcess) -> None:
        """Stop one process now."""
        process.stop(self._grace)
        if process in self._running:
            self._running.remove(process)

    def stop_all(self) -> None:
        """Stop everything still running, newest first."""
        while self._running:
            self.stop(self._running[-1])


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (which may hold spaces)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2 :].split()


def process_tree(root_pid: int) -> list[int]:
    """`root_pid` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            # proc(5): field 4 is ppid; fields[] starts at field 3 (state).
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, pending = [], [root_pid]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, ()))
    return tree


def cpu_seconds(root_pid: int) -> float:
    """User plus system CPU seconds of `root_pid` and its live descendants.

    proc(5): utime and stime are fields 14 and 15 of /proc/PID/stat, in clock
    ticks; they include the time of every thread of the process.
    """
    ticks = 0
    for pid in process_tree(root_pid):
        fields = _stat_fields(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / _CLOCK_TICKS


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from the `cpu` line of /proc/stat."""
    fields = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # proc(5): user nice system idle iowait irq softirq steal guest guest_nice; guest
    # time is already counted in user and nice.
    total = sum(fields[:8])
    return total - fields[3] - fields[4], total


class CpuMeter:
    """CPU use between two readings: the proxy's (100 = one core) and the machine's.

    The machine's share (100 = every core busy) shows when other work shares the
    cores: a proxy short of CPU drops datagrams, and its calls fail.
    """

    def __init__(self, proxy_pid: int) -> None:
        self._pid = proxy_pid
        self._last = self.read()

    def read(self) -> tuple[float, float, int, int]:
        """(monotonic time, CPU seconds of the process, machine busy ticks, machine ticks)."""
        busy, total = machine_cpu_ticks()
        return time.monotonic(), cpu_seconds(self._pid), busy, total

    def since_last(self) -> tuple[float, float]:
        """(proxy %, machine busy %) since the previous call."""
        now = self.read()
        wall = max(now[0] - self._last[0], 1e-6)
        proxy = 100 * (now[1] - self._last[1]) / wall
        machine = 100 * (now[2] - self._last[2]) / max(now[3] - self._last[3], 1)
        self._last = now
        return proxy, machine


def _proc_net_udp_address(host: str, port: int) -> str:
    """The local_address column of /proc/net/udp for an IPv4 host and port."""
    octets = [int(part) for part in host.split(".")]
    # The address is the raw 32-bit word printed in host (little-endian) order.
    return "".join(f"{octet:02X}" for octet in reversed(octets)) + f":{port:04X}"


def _udp_socket_drops(host: str, port: int) -> list[int]:
    """The `drops` column of every UDP socket bound to host:port in /proc/net/udp,
    one entry per socket (several when they share the port with SO_REUSEPORT)."""
    wanted = _proc_net_udp_address(host, port)
    return [int(columns[-1])
            for columns in (line.split()
                            for line in Path("/proc/net/udp").read_text().splitlines()[1:])
            if columns[1] == wanted]


def udp_socket_drops(host: str, port: int) -> int | None:
    """Datagrams the kernel dropped on the UDP sockets bound to host:port: the
    socket, or all of them when processes share the port (vipproxy's workers).

    None when no socket is bound there. The count is the `drops` column of
    /proc/net/udp: datagrams lost because the receive buffer was full.
    """
    drops = _udp_socket_drops(host, port)
    return sum(drops) if drops else None


def wait_until_listening(process: ManagedProcess, host: str, port: int, timeout: float,
                         sockets: int = 1) -> None:
    """Block until `sockets` sockets (one unless said: several processes sharing the
    port each bind one) are bound to UDP host:port; fail if `process` exits."""
    deadline = time.monotonic() + timeout
    bound = "" if sockets == 1 else f" with {sockets} sockets"
    while len(_udp_socket_drops(host, port)) < sockets:
        if process.exit_code() is not None:
            raise ProcessFailed(
                f"{process.name} exited with {process.exit_code()} before listening on "
                f"udp:{host}:{port}{bound}:\n{process.log_tail()}"
            )
        if time.monotonic() > deadline:
            raise ProcessFailed(
                f"{process.name} not listening on udp:{host}:{port}{bound} after "
                f"{timeout:.0f} s:\n{process.log_tail()}"
            )
        time.sleep(0.05)


def check_udp_port_free(host: str, port: int) -> None:
    """Fail when some socket is already bound to UDP host:port (a leftover run)."""
    if udp_socket_drops(host, port) is not None:
        raise ProcessFailed(f"udp:{host}:{port} is already in use")


def start_listening(running: ProcessSet, process: ManagedProcess, host: str, port: int,
                    timeout: float = 15.0, *, proxy: bool = False) -> ManagedProcess:
    """Start `process` in `running` once host:port is free; return when it listens there."""
    check_udp_port_free(host, port)
    running.start(process, proxy=proxy)
    wait_until_listening(process, host, port, timeout)
    return process


def fresh_run_directory(prefix: str, parent: Path | None) -> Path:
    """A new directory for one run's files, inside ``parent`` when given; SIGTERM
    from now on stops the run as Ctrl-C does, so every process is stopped."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def finish_run(body: Callable[[], int], workdir: Path, keep: bool) -> int:
    """Run a load tool's ``body`` and say how it ended: its own exit code, 2 when a
    process could not start, 130 when interrupted (every process is stopped by
    then). The run's files are removed after a success unless ``keep``."""
    try:
        exit_code = body()
    except ProcessFailed as error:
        print(f"error: {error}", file=sys.stderr)
        exit_code = 2
    except KeyboardInterrupt:
        print("interrupted; every process started was stopped", file=sys.stderr)
        exit_code = 130
    if not keep and exit_code == 0:
        shutil.rmtree(workdir)
    else:
        print(f"\nfiles kept in {workdir}")
    return exit_code
