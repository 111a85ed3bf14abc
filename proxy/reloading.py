"""Reloading the configuration file in the running proxy (SIGHUP, ``vipproxy reload``).

A valid file is swapped in for the next request in one step on the event loop:
every part that reads the directory gets the new value before another message is
handled, and calls in progress keep the plan they were given. An invalid file
changes nothing; every problem is reported with its path. What only a restart can
change is reported too (``proxy.config.reload``).

``vipproxy reload`` finds the process by the pid file in ``state_dir`` and reads
the outcome of its reload from the outcome file beside it, so the command's exit
status says what the process did with the file it runs from.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from proxy.config.errors import ConfigError
from proxy.config.loader import ProxyConfig, read_document, validate_document
from proxy.config.reload import live_config, restart_needed
from proxy.config.user_settings import (
    ignored_in_file,
    is_locked,
    seeds,
    user_settings,
    with_user_settings,
)
from proxy.store import StoreError

PID_FILE = "vipproxy.pid"
LoadSettings = Callable[[], Awaitable[dict[str, dict[str, Any]]]]
SaveSettings = Callable[[str, Mapping[str, Any]], Awaitable[None]]
OUTCOME_FILE = "vipproxy.reload.json"
IGNORED_EDIT = ("the users' settings (delegates, vip_delegation, ring_timeout, "
                "vip_contacts) are kept in the store, so this edit is not applied; "
                "set locked: true to make the file's entry the delegation")


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """What one reload did."""

    sequence: int  # reloads this process has done, this one included
    applied: bool
    problems: tuple[str, ...] = ()  # the file's errors, each with its path: nothing changed
    restart_needed: tuple[str, ...] = ()  # applied except these sections
    ignored: tuple[str, ...] = ()  # applied except these users' settings (the store has them)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class LiveConfig:
    """The configuration in force, and the parts of the proxy that follow it.

    It is the file (the administrator's) with the delegators' own settings from the
    store laid over it (``proxy.config.user_settings``); a reload reads the file
    again, a user's change replaces their settings, and both are validated whole
    by the same models before anything changes.
    """

    def __init__(self, path: Path, config: ProxyConfig, log: Any) -> None:
        self.path = path
        self.config = config
        self._log = log
        self._followers: list[Callable[[ProxyConfig], None]] = []
        self._sequence = 0
        self.results: Counter[str] = Counter()  # applied, refused: for the metrics
        self._document: object = None  # the file as last applied, parsed
        self._stored: dict[str, dict[str, Any]] = {}  # delegator -> their own settings
        self._save: SaveSettings | None = None
        self._changing = asyncio.Lock()  # users' changes are saved in the order made
        self._changes = 0  # users' changes made here, so a refresh read before one is dropped
        self._tasks: set[asyncio.Task[None]] = set()  # seeding after a reload

    async def open_settings(self, load: LoadSettings, save: SaveSettings) -> None:
        """Seed the store with the file's delegators it does not hold yet, then lay
        the users' settings from the store over the file; raises ConfigError (every
        problem by its path) when the two together are invalid, StoreError when the
        store cannot be read or written."""
        stored = await load()
        document = read_document(self.path)
        self.config = live_config(self.config, self._validated(document, stored))
        self._document, self._stored, self._save = document, stored, save
        await self._seed(seeds(document, stored))

    async def _seed(self, new: Mapping[str, Mapping[str, Any]]) -> None:
        """Write the file's settings of delegators the store does not hold: from now
        on the store is the truth for them. Nothing changes in force (the file said
        the same), so a store that fails leaves them to the next start."""
        assert self._save is not None, "open_settings comes first"
        async with self._changing:
            for delegator, settings in new.items():
                if delegator in self._stored:
                    continue  # a user changed it meanwhile
                await self._save(delegator, settings)
                self._stored = {**self._stored, delegator: dict(settings)}
        if new:
            self._log.info("delegation.seeded", delegators=sorted(new))

    def on_reload(self, follower: Callable[[ProxyConfig], None]) -> None:
        """Call ``follower`` with the configuration in force after each change."""
        self._followers.append(follower)

    def reload(self) -> ReloadOutcome:
        """Read the file again and apply it, or change nothing when it is invalid."""
        self._sequence += 1
        try:
            document = read_document(self.path)
            # The file on its own first, as `vipproxy check` reads it: a mistake in
            # what the store overrides is still a mistake in the file.
            validate_document(document, os.environ)
            new = self._validated(document, self._stored)
        except ConfigError as error:
            problems = tuple(str(problem) for problem in error.problems)
            self._log.error("config.reload_failed", path=str(self.path), problems=list(problems))
            self.results["refused"] += 1
            return self._reported(ReloadOutcome(self._sequence, False, problems))
        waiting = restart_needed(self.config, new)
        ignored = tuple(f"delegations.{delegator}: {IGNORED_EDIT}"
                        for delegator in ignored_in_file(self._document, document, self._stored))
        self._document = document
        self._apply(new)
        self._log.info("config.reloaded", path=str(self.path), restart_needed=list(waiting),
                       ignored=list(ignored), users=len(new.directory.users),
                       delegations=len(new.directory.delegations))
        self.results["applied"] += 1
        self._keep(asyncio.get_running_loop().create_task(
            self._seed_quietly(seeds(document, self._stored))))
        return self._reported(ReloadOutcome(self._sequence, True, (), waiting, ignored))

    async def _seed_quietly(self, new: Mapping[str, Mapping[str, Any]]) -> None:
        try:
            await self._seed(new)
        except StoreError as error:  # they follow the file until the next try
            self._log.warning("delegation.seed_failed", error=error.problem)

    def _keep(self, task: asyncio.Task[None]) -> None:
        # The loop keeps only weak references to tasks: hold it until it is done.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def locked(self, delegator: str) -> bool:
        """Whether the file keeps ``delegator``'s delegation (``locked: true``)."""
        return is_locked(self._document, delegator)

    def settings_of(self, delegator: str) -> dict[str, Any]:
        """``delegator``'s own settings as they stand (a copy to change)."""
        return copy.deepcopy(user_settings(self._document, self._stored, delegator))

    async def change_settings(self, delegator: str, settings: Mapping[str, Any]) -> None:
        """Replace ``delegator``'s own settings: validated with the file first
        (ConfigError, nothing changed), in force for the next call, then saved; when
        the store fails (StoreError) the change is taken back."""
        assert self._save is not None, "open_settings comes first"
        async with self._changing:
            before = self._stored
            stored = {**before, delegator: dict(settings)}
            self._apply(self._validated(self._document, stored))
            self._stored = stored
            self._changes += 1
            try:
                await self._save(delegator, settings)
            except StoreError:
                self._stored = before
                self._apply(self._validated(self._document, before))
                raise
        self._log.info("delegation.changed", delegator=delegator)

    async def keep_settings_fresh(self, load: LoadSettings, interval: float) -> None:
        """Read the users' settings from the store every ``interval`` seconds and
        apply them when another proxy (sharing the database) changed them. Runs
        until cancelled."""
        while True:
            await asyncio.sleep(interval)
            changes = self._changes
            try:
                stored = await load()
            except StoreError as error:  # a database hiccup must not stop the proxy
                self._log.warning("delegation.refresh_failed", error=error.problem)
                continue
            if stored == self._stored or self._changing.locked() or changes != self._changes:
                continue  # nothing new, or read before (or while) a change of ours
            try:
                self._apply(self._validated(self._document, stored))
            except ConfigError as error:
                self._log.error("delegation.stored_invalid",
                                problems=[str(problem) for problem in error.problems])
                continue
            self._stored = stored
            self._log.info("delegation.refreshed", delegators=sorted(stored))

    def _validated(self, document: object, stored: Mapping[str, Mapping[str, Any]],
                   ) -> ProxyConfig:
        return validate_document(with_user_settings(document, stored), os.environ)

    def _apply(self, new: ProxyConfig) -> None:
        """Swap ``new`` in for the next request: every follower before the loop
        handles another message."""
        self.config = live_config(self.config, new)
        for follower in self._followers:
            follower(self.config)

    def _reported(self, outcome: ReloadOutcome) -> ReloadOutcome:
        outcome_path = self.config.state_dir / OUTCOME_FILE
        try:
            _write_atomically(outcome_path, json.dumps({"pid": os.getpid(),
                                                        **outcome.as_json()}))
        except OSError as error:  # the log has it; the reload itself is done
            self._log.warning("config.outcome_unwritten", path=str(outcome_path),
                              error=error.strerror)
        return outcome


def write_pid_file(state_dir: Path, log: Any) -> Path | None:
    """Say where ``vipproxy reload`` finds this process; None (logged) when it cannot."""
    path = state_dir / PID_FILE
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, f"{os.getpid()}\n")
    except OSError as error:
        log.warning("proxy.pid_file_unwritten", path=str(path), error=error.strerror)
        return None
    return path


def remove_pid_file(path: Path | None) -> None:
    """Remove our pid file, unless another process has written its own since."""
    if path is None:
        return
    try:
        if path.read_text().strip() == str(os.getpid()):
            path.unlink()
    except OSError:
        pass  # already gone: nothing points at this process any more


def _write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of it."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


class ReloadUnreachable(Exception):
    """No running proxy took the reload; the message says why."""


def request_reload(state_dir: Path, timeout: float) -> ReloadOutcome:
    """Send SIGHUP to the proxy whose pid file is in ``state_dir`` and wait up to
    ``timeout`` seconds for the outcome it writes (``vipproxy reload``)."""
    pid_path = state_dir / PID_FILE
    try:
        pid = int(pid_path.read_text().strip())
    except (OSError, ValueError) as error:
        raise ReloadUnreachable(f"no running vipproxy: cannot read {pid_path} ({error})") from None
    before = _read_outcome(state_dir, pid)
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise ReloadUnreachable(f"no running vipproxy: {pid_path} names pid {pid}, "
                                "which is gone") from None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.05)
        outcome = _read_outcome(state_dir, pid)
        if outcome is not None and (before is None or outcome.sequence > before.sequence):
            return outcome
    raise ReloadUnreachable(f"vipproxy (pid {pid}) did not report a reload within {timeout:g} s")


def _read_outcome(state_dir: Path, pid: int) -> ReloadOutcome | None:
    """The last reload process ``pid`` reported, if any."""
    try:
        data = json.loads((state_dir / OUTCOME_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("pid") != pid:
        return None  # an earlier process's
    return ReloadOutcome(data["sequence"], data["applied"], tuple(data["problems"]),
                         tuple(data["restart_needed"]), tuple(data.get("ignored", ())))
