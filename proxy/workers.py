"""The other workers, as the first one starts, reloads and stops them.

``vipproxy run`` with ``workers.count`` above 1 is the first worker: the proxy
as one process runs it, with the store, the API and the pid file. Once it
listens it starts the others (``vipproxy run --worker I``), each with a handoff
channel to it (``proxy.transport.handoff``) and the route-token secret on its
standard input (never on a command line, which anyone on the host can read).
It passes its reloads on (SIGHUP), and SIGTERM when it drains; a worker that
exits on its own is started again. What each worker serves is in
``proxy.core.workers``.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from proxy.transport.handoff import HandoffReceiver, handoff_pair

# A worker says it listens with this line on its standard output.
READY = b"ready\n"
READY_TIMEOUT_SECONDS = 30.0
# A worker that died is started again after this pause, so that one that cannot
# start (a port taken since) costs a log line a second, not a busy loop.
RESTART_DELAY_SECONDS = 1.0


class WorkerStartFailed(Exception):
    """A worker did not come up; the message says which and why."""


class Workers:
    """Workers 1 to ``count - 1``, run by the first."""

    def __init__(self, path: Path, count: int, secret: bytes, receiver: HandoffReceiver,
                 log: Any) -> None:
        self._path = path
        self._count = count
        self._secret = secret
        self._receiver = receiver
        self._log = log
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._handoffs: dict[int, socket.socket] = {}  # the first worker's end, by worker
        self._watchers: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self) -> None:
        """Start every worker and wait until each listens; raises
        :class:`WorkerStartFailed` (the ones started are stopped) otherwise."""
        try:
            for index in range(1, self._count):
                self._processes[index] = await self._start(index)
        except WorkerStartFailed:
            self.stop()
            await self.wait(READY_TIMEOUT_SECONDS)
            raise
        self._watchers = [asyncio.create_task(self._restart_when_gone(index))
                          for index in self._processes]

    def reload(self) -> None:
        """The first worker applied a reload: every worker reads the file again."""
        self._signal(signal.SIGHUP)

    def stop(self) -> None:
        """Every worker drains and exits (SIGTERM), as the first one does."""
        self._stopping = True
        for watcher in self._watchers:
            watcher.cancel()
        self._signal(signal.SIGTERM)

    async def wait(self, timeout: float) -> int:
        """Wait for every worker to exit, killing those still up after ``timeout``;
        how many had to be killed."""
        killed = 0
        for index, process in self._processes.items():
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                self._log.error("worker.killed", worker=index, pid=process.pid)
                process.kill()
                await process.wait()
                killed += 1
        return killed

    async def _start(self, index: int) -> asyncio.subprocess.Process:
        mine, theirs = handoff_pair()
        with theirs:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "proxy", "run", "--config", str(self._path),
                "--worker", str(index), "--handoff-fd", str(theirs.fileno()),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                pass_fds=(theirs.fileno(),))
        assert process.stdin is not None and process.stdout is not None  # both piped
        process.stdin.write(self._secret.hex().encode("ascii") + b"\n")
        process.stdin.close()
        try:
            ready = await asyncio.wait_for(process.stdout.readline(), READY_TIMEOUT_SECONDS)
        except TimeoutError:
            ready = b""
        if ready != READY:
            mine.close()
            if process.returncode is None:
                process.kill()
            code = await process.wait()
            raise WorkerStartFailed(f"worker {index} did not start (exit status {code}; "
                                    "its log says why)")
        self._receiver.add(mine)
        self._handoffs[index] = mine
        self._log.info("worker.started", worker=index, pid=process.pid)
        return process

    async def _restart_when_gone(self, index: int) -> None:
        while True:
            code = await self._processes[index].wait()
            if self._stopping:
                return
            self._log.error("worker.exited", worker=index, status=code,
                            restart_in=RESTART_DELAY_SECONDS)
            gone = self._handoffs.pop(index, None)
            if gone is not None:
                self._receiver.remove(gone)
            await asyncio.sleep(RESTART_DELAY_SECONDS)
            try:
                self._processes[index] = await self._start(index)
            except WorkerStartFailed as failure:
                self._log.error("worker.start_failed", worker=index, error=str(failure))

    def _signal(self, signum: signal.Signals) -> None:
        for process in self._processes.values():
            if process.returncode is None:
                process.send_signal(signum)


def end_with_first_worker() -> None:
    """Called in a worker: it gets SIGTERM (and drains) when the first worker's process
    ends, even when it was killed (Linux PR_SET_PDEATHSIG)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


_PR_SET_PDEATHSIG = 1  # linux/prctl.h
