"""The ``vipproxy`` command: run, check, explain and schema."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from proxy.app import serve
from proxy.config.errors import ConfigError
from proxy.config.loader import ProxyConfig, config_schema, load_config
from proxy.policy.decide import CallInfo, decide


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "schema":
        print(json.dumps(config_schema(), indent=2))
        return 0
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"{args.config}: invalid configuration:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    if args.command == "check":
        print(f"{args.config}: OK ({len(config.listeners)} listeners)")
        return 0
    if args.command == "explain":
        return _explain(config, args)
    return _run(config)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vipproxy", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the proxy")
    check = commands.add_parser("check", help="validate a configuration file and exit")
    explain = commands.add_parser("explain", help="show how a call would be routed")
    commands.add_parser(
        "schema", help="print the JSON Schema of the configuration file (for editors)"
    )
    for command in (run, check, explain):
        command.add_argument("--config", required=True, help="YAML configuration file")
    explain.add_argument("--from", dest="caller", required=True, help="caller number (From)")
    explain.add_argument("--to", dest="line", required=True, help="called number or line")
    explain.add_argument("--asserted", help="P-Asserted-Identity number, if the call has one")
    explain.add_argument(
        "--peer", default="127.0.0.1",
        help="IP address the call comes from (default 127.0.0.1; --asserted is believed "
        "only if this address is in trusted_peers)",
    )
    return parser


def _explain(config: ProxyConfig, args: argparse.Namespace) -> int:
    call = CallInfo(
        request_uri_user=args.line,
        to_user=args.line,
        from_user=args.caller,
        asserted_user=args.asserted,
        source_ip=args.peer,
    )
    decision = decide(call, config.directory, 0.0)
    print(decision.explain())
    return 0 if decision.plan is not None else 1


def _run(config: ProxyConfig) -> int:
    try:
        import uvloop
    except ImportError:  # uvloop is optional: the default loop works, only slower
        return asyncio.run(serve(config))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(serve(config))
