"""The ``vipproxy`` command: run, check, reload, export, explain, registrations,
history, schema and passwd."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from proxy.app import serve, serve_worker
from proxy.auth import ha1_values
from proxy.config.errors import ConfigError
from proxy.config.loader import (
    ProxyConfig,
    config_schema,
    load_config,
    read_document,
    validate_document,
)
from proxy.config.user_settings import with_user_settings
from proxy.history.view import SINCE_FORMS, history_table, json_lines, since_time
from proxy.policy.decide import CallInfo, decide
from proxy.reloading import ReloadUnreachable, request_reload
from proxy.store import Store, StoreError, open_store

# How long ``vipproxy reload`` waits for the running proxy's answer.
RELOAD_ANSWER_SECONDS = 10.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "schema":
        print(json.dumps(config_schema(), indent=2))
        return 0
    if args.command == "passwd":
        return _passwd(args)
    try:
        config = load_config(args.config)
    except ConfigError as error:
        return _invalid(args.config, error)
    if args.command == "check":
        print(f"{args.config}: OK ({len(config.listeners)} listeners)")
        return 0
    if args.command == "reload":
        return _reload(config, args.config)
    if args.command == "export":
        return asyncio.run(_export(config, args.config))
    if args.command == "explain":
        return _explain(config, args)
    if args.command == "registrations":
        return asyncio.run(_registrations(config))
    if args.command == "history":
        return _history(config, args)
    if args.worker is not None:
        return _run(serve_worker(config, Path(args.config), args.worker, args.handoff_fd))
    return _run(serve(config, Path(args.config)))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vipproxy", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the proxy")
    check = commands.add_parser("check", help="validate a configuration file and exit")
    reload = commands.add_parser(
        "reload", help="make the running proxy read its configuration file again",
        description="Validate the file, then signal the proxy whose pid file is in the file's "
        "state_dir (SIGHUP) and print what it did: exit 0 when the file was applied (sections "
        "that need a restart are listed), 2 when it was invalid (nothing changed), 1 when no "
        "proxy answered.")
    export = commands.add_parser(
        "export", help="print the configuration in force: the file with the delegations users "
        "changed in the store, as YAML",
        description="Print the file with each unlocked delegator's settings from the store "
        "(delegates, invitations, policies, ring timeout, VIP contacts) in place of the file's, "
        "as YAML to replace the file with. ${VAR} values stay as written; comments are lost.")
    explain = commands.add_parser("explain", help="show how a call would be routed")
    registrations = commands.add_parser(
        "registrations", help="print the location table: every unexpired registration")
    history = commands.add_parser(
        "history", help="print the shared call history",
        description="Print the calls on users' lines, oldest first: a table, or JSON lines "
        "with --json. A delegator and their accepted delegates see the delegator's lines.")
    commands.add_parser(
        "schema", help="print the JSON Schema of the configuration file (for editors)"
    )
    passwd = commands.add_parser(
        "passwd",
        help="print the ha1 block of a user's auth section for a password read from stdin",
    )
    for command in (run, check, reload, export, explain, registrations, history):
        command.add_argument("--config", required=True, help="YAML configuration file")
    # How the first of several workers starts the others (``proxy.workers``).
    run.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    run.add_argument("--handoff-fd", type=int, help=argparse.SUPPRESS)
    passwd.add_argument("username", help="the digest username (auth.username, else the user id)")
    realm = passwd.add_mutually_exclusive_group(required=True)
    realm.add_argument("--realm", help="the digest realm (auth.realm of the configuration)")
    realm.add_argument("--config", help="YAML configuration file to read auth.realm from")
    history.add_argument("--line", help="only calls on this line (a number, written any way)")
    history.add_argument(
        "--user", help="only the calls this user sees: on their own lines and on the lines of "
        "every delegator they are an accepted delegate of")
    history.add_argument("--since", type=_since, help=f"only calls started since: {SINCE_FORMS}")
    history.add_argument("--json", action="store_true",
                         help="one JSON object per call and line (the fields of the call.ended "
                         "log line) instead of a table")
    explain.add_argument("--from", dest="caller", required=True, help="caller number (From)")
    explain.add_argument("--to", dest="line", required=True, help="called number or line")
    explain.add_argument("--asserted", help="P-Asserted-Identity number, if the call has one")
    explain.add_argument(
        "--user", help="the call comes from a phone of this user that authenticated (the From "
        "or --preferred selects the line it calls from; outbound routes need a phone or a "
        "trusted --peer)")
    explain.add_argument("--preferred", help="P-Preferred-Identity number (with --user)")
    explain.add_argument(
        "--peer", default="127.0.0.1",
        help="IP address the call comes from (default 127.0.0.1; --asserted is believed "
        "only if this address is in trusted_peers)",
    )
    return parser


def _invalid(path: str, error: ConfigError) -> int:
    print(f"{path}: invalid configuration:", file=sys.stderr)
    for problem in error.problems:
        print(f"  {problem}", file=sys.stderr)
    return 2


def _reload(config: ProxyConfig, path: str) -> int:
    """``vipproxy reload``: the running proxy's own verdict on its file."""
    try:
        outcome = request_reload(config.state_dir, RELOAD_ANSWER_SECONDS)
    except ReloadUnreachable as error:
        print(f"vipproxy reload: {error}", file=sys.stderr)
        return 1
    if not outcome.applied:
        print(f"{path}: invalid configuration; the running proxy changed nothing:",
              file=sys.stderr)
        for problem in outcome.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    print(f"{path}: reloaded")
    for reason in (*outcome.restart_needed, *outcome.ignored):
        print(f"  {reason}")
    return 0


async def _export(config: ProxyConfig, path: str) -> int:
    """``vipproxy export``: the file with the users' settings, validated, as YAML."""
    try:
        stored, url = await _read_store(config, lambda store: store.delegation_settings())
    except StoreError as error:
        return _store_failed(error)
    document = with_user_settings(read_document(path), stored)
    try:
        validate_document(document, os.environ)
    except ConfigError as error:
        return _invalid(f"{path} with the delegations in {url}", error)
    print(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), end="")
    return 0


def _passwd(args: argparse.Namespace) -> int:
    """``vipproxy passwd USERNAME``: HA1 values (RFC 7616 §3.4.2) to paste under the
    user's ``auth:`` instead of the password. The password is read from stdin
    (one line), or asked for without echo on a terminal."""
    realm = args.realm
    if realm is None:
        try:
            realm = load_config(args.config).auth_realm
        except ConfigError as error:
            return _invalid(args.config, error)
        if realm is None:
            print(f"{args.config}: no auth.realm; give --realm", file=sys.stderr)
            return 2
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        print("empty password", file=sys.stderr)
        return 2
    print("ha1:")
    for algorithm, value in ha1_values(args.username, realm, password).items():
        print(f"  {algorithm.lower()}: {value}")
    return 0


def _explain(config: ProxyConfig, args: argparse.Namespace) -> int:
    call = CallInfo.described(args.caller, args.line, peer=args.peer, asserted=args.asserted,
                              user=args.user, preferred=args.preferred)
    decision = decide(call, config.directory, 0.0)
    print(decision.explain())
    return 0 if decision.plan is not None else 1


async def _registrations(config: ProxyConfig) -> int:
    """The registrations the store holds (what a restarted proxy would load), one
    line each: address of record, contact, seconds left, where it registered from."""
    now = time.time()
    try:
        rows, url = await _read_store(config, lambda store: store.load_registrations(now))
    except StoreError as error:
        return _store_failed(error)
    print(f"{len(rows)} registration(s) in {url}")
    for row in rows:
        received = row.received
        print(f"{row.aor}  {row.contact}  expires in {int(row.expires_at - now)} s  "
              f"from {received.transport.lower()}:{received.host}:{received.port}"
              f"{'  ' + row.user_agent if row.user_agent else ''}")
    return 0


def _since(text: str) -> float:
    try:
        return since_time(text, time.time())
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _history(config: ProxyConfig, args: argparse.Namespace) -> int:
    """``vipproxy history``: the calls the store holds, as the filters say."""
    directory = config.directory
    delegators = None
    if args.user is not None:
        if args.user not in directory.users:
            print(f"vipproxy history: --user: {args.user!r} is not a user; users: "
                  f"{', '.join(sorted(directory.users)) or 'none'}", file=sys.stderr)
            return 2
        delegators = directory.history_shared_with(args.user)
    lines = None if args.line is None else [directory.normalize(args.line)]
    try:
        rows, _ = asyncio.run(_read_store(config, lambda store: store.call_history(
            lines=lines, delegators=delegators, since=args.since)))
    except StoreError as error:
        return _store_failed(error)
    if args.json:
        if rows:
            print(json_lines(rows))
    else:
        print(history_table(rows))
    return 0


T = TypeVar("T")


async def _read_store(config: ProxyConfig,
                      read: Callable[[Store], Awaitable[T]]) -> tuple[T, str]:
    """Open the configured store, ``read`` it and close it: what was read and the
    store's URL (password hidden). StoreError when it cannot be opened or read."""
    store = await open_store(config.database_url)
    try:
        return await read(store), store.url
    finally:
        await store.close()


def _store_failed(error: StoreError) -> int:
    print(f"vipproxy: {error}", file=sys.stderr)
    return 1


def _run(main: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:  # uvloop is optional: the default loop works, only slower
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
