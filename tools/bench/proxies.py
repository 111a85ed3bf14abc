"""The proxies the bench can drive, each set up for the same parallel fork.

A call to the bench's service number rings both callees at once: vipproxy
through a one-stage `routes:` entry in a generated config, Kamailio through
kamailio.cfg next to this file (tm + rr, two UDP workers, no database).

With `endpoints` callees (vipproxy only) the service number is the line of one
user whose two static endpoints are the callees: the same fork, plus what a
user's line costs (dialog state, history). With registered callees (vipproxy
only) the service number is the line of one user, `endpoints: [registered]`,
whose two phones are the two callees,
each registered with digest before the calls: the user's plan is one stage
with one target per registered contact, the same two-branch parallel fork as
the static route. (Two users would need a delegation to ring both, which adds
policy work the static route does not have.)

The `vip` step (vipproxy only) calls an executive whose delegation rings the
executive's phone (callee A) and the assistant's (callee B) for other callers,
and only the executive's for VIP contacts (`vip_callers: ring_me_only`); the
caller's From is a VIP contact's number, so callee B must never ring.

With workers (vipproxy, run.py --workers N), the config has `workers: {count:
N, first_port: P}`: the proxy runs N processes sharing its UDP port, workers 1 to
N-1 sending their requests from P, P+1, ... on the proxy's host (worker 0 sends
from the shared port). Each vipproxy the bench knows has its own block of
MAX_WORKERS ports for that, clear of every port the bench uses (WORKER_PORTS).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from processes import ManagedProcess, ProcessFailed
from sipp import Credentials

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent.parent
KAMAILIO_CONFIG = BENCH_DIR / "kamailio.cfg"
# The domain of the bench's users: the host part of their addresses of record.
DOMAIN = "bench.vipproxy.test"
REGISTERED = "registered"
# A user's line carries every call of the load at once, as the static route does.
LINE_CARRIES_ALL = 100_000
# vipproxy's T1 in the bench (RFC 3261 §17.1.1.1's default). A transaction lingers
# after its final response to absorb retransmissions, at most 64*T1 (Timers J, L,
# M) or 32 s (Timer D over UDP): after that long, a proxy holds nothing of a call.
T1_SECONDS = 0.5
TRANSACTION_LINGER_SECONDS = max(64 * T1_SECONDS, 32.0)
# The executive of the `vip` step and the VIP contact's number that calls.
EXECUTIVE, ASSISTANT = "bench-exec", "bench-assistant"
VIP_NUMBER = "+14155550199"
# vipproxy's `workers.count` is 1..16 (proxy/defaults.py MAX_WORKERS; the bench
# imports nothing from the proxy, whose checkout may be another one: --baseline).
MAX_WORKERS = 16


@dataclass(frozen=True)
class Fork:
    """What every proxy is set up to do: `service` rings both callee URIs."""

    service: str
    callee_uris: tuple[str, str]
    caller_host: str  # trusted, as the PBX in front of which the proxy runs
    # Set: the callees are the registered phones of this user, whose line is
    # `service` (callee_uris then only name where they listen).
    phones: Credentials | None = None
    # Set: the service number is the line of a user whose static endpoints are the
    # two callees (what a registered user's line is, without the registrar).
    static_user: bool = False
    # One log line per transaction event at info level would measure the logger;
    # info shows per call only route.decision and call.ended.
    log_level: str = "warning"
    # Set: the service number is the line of an executive whose VIP contacts (this
    # number) ring only the executive, callee A; others ring the assistant, B, too.
    vip_caller: str | None = None


@dataclass(frozen=True)
class ProxyUnderTest:
    """A proxy: where it listens and how to start it for a fork."""

    name: str
    host: str
    port: int
    launch: Callable[[ProxyUnderTest, Fork, Path], ManagedProcess]
    registrar: bool = False  # whether it can ring registered callees (Fork.phones)
    delegation: bool = False  # whether it has VIP policies (Fork.vip_caller)
    # Whether its exit log line says what it still held (left_* fields).
    reports_leftovers: bool = False
    # vipproxy's `workers` section: `workers` processes (None: no such section, one
    # process as before workers existed), worker i (from 1) also on
    # first_worker_port + i - 1.
    workers: int | None = None
    first_worker_port: int | None = None

    def process(self, fork: Fork, workdir: Path) -> ManagedProcess:
        """The (not yet started) process, its files in `workdir`."""
        return self.launch(self, fork, workdir)

    @property
    def worker_ports(self) -> tuple[int, ...]:
        """The own ports of workers 1, 2, ...; () without workers."""
        if self.workers is None or self.first_worker_port is None:
            return ()
        return tuple(range(self.first_worker_port, self.first_worker_port + self.workers - 1))


def registering_user(credentials: Credentials, lines: Sequence[str]) -> dict[str, Any]:
    """A `users` entry whose phones register with digest credentials."""
    return {
        "name": credentials.user,
        "lines": list(lines),
        "endpoints": [REGISTERED],
        "auth": {"username": credentials.user, "password": credentials.password},
    }


def registrar_sections(users: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """`domain`, `auth` and `users`: what turns vipproxy's registrar on for `users`.

    Only MD5 is offered: SIPp answers only the first challenge, and only MD5.
    """
    return {
        "domain": DOMAIN,
        "auth": {"realm": DOMAIN, "algorithms": ["MD5"]},
        "users": dict(users),
    }


def _vip_sections(fork: Fork, vip_caller: str) -> dict[str, Any]:
    """An executive on the service line with an assistant: everyone rings both,
    except VIP contacts, who ring the executive only (ring_me_only)."""
    return {
        "users": {
            EXECUTIVE: {"name": EXECUTIVE, "lines": [fork.service],
                        "endpoints": [fork.callee_uris[0]]},
            ASSISTANT: {"name": ASSISTANT, "lines": [], "endpoints": [fork.callee_uris[1]]},
        },
        "delegations": {EXECUTIVE: {
            "delegates": {ASSISTANT: {"privileges": ["answer_calls"], "status": "accepted"}},
            "vip_delegation": {"enabled": True, "vip_callers": "ring_me_only",
                               "other_callers": "ring_all"},
            "vip_contacts": [{"first_name": "Bench", "last_name": "VIP",
                              "numbers": [vip_caller]}],
            "ring_timeout": "20s",
        }},
        "lines": {"max_calls": LINE_CARRIES_ALL},
    }


def _fork_sections(fork: Fork) -> dict[str, Any]:
    """What makes a call to the service number ring both callees (or, for a VIP
    caller of the `vip` step, only the first)."""
    if fork.vip_caller is not None:
        return _vip_sections(fork, fork.vip_caller)
    if fork.static_user:
        return {
            "users": {"bench": {"name": "bench", "lines": [fork.service],
                                "endpoints": list(fork.callee_uris)}},
            "lines": {"max_calls": LINE_CARRIES_ALL},
        }
    if fork.phones is None:
        return {"routes": {
            fork.service: {"stages": [{"targets": list(fork.callee_uris), "timeout": "20s"}]},
        }}
    return {
        **registrar_sections({fork.phones.user: registering_user(fork.phones, [fork.service])}),
        "lines": {"max_calls": LINE_CARRIES_ALL},
    }


def _workers_section(proxy: ProxyUnderTest) -> dict[str, Any]:
    """`workers`, when `proxy` runs with workers (else nothing: one process)."""
    if proxy.workers is None:
        return {}
    return {"workers": {"count": proxy.workers, "first_port": proxy.first_worker_port}}


def vipproxy_config(proxy: ProxyUnderTest, fork: Fork) -> dict[str, Any]:
    """The YAML document (as a dict) that makes vipproxy listen on `proxy` and fork."""
    return {
        "listen": [{"transport": "udp", "host": proxy.host, "port": proxy.port}],
        **_workers_section(proxy),
        # RFC 3261 §16.6 step 11: Timer C must be greater than 3 minutes.
        "timers": {"t1": f"{T1_SECONDS * 1000:g}ms", "t2": "4s", "t4": "5s",
                   "timer_c": "181s"},
        "shutdown_grace": "2s",
        "logging": {"level": fork.log_level, "format": "json"},
        **_fork_sections(fork),
        # The SIPp caller stands for the PBX in front of which the proxy runs.
        "trusted_peers": [f"{fork.caller_host}/32"],
    }


def vipproxy_process(proxy: ProxyUnderTest, config: Mapping[str, Any], workdir: Path,
                     checkout: Path = REPO_ROOT) -> ManagedProcess:
    """vipproxy from `checkout` (this one unless said) with `config`, written to
    `workdir`/vipproxy.yaml. `python -m proxy` in the checkout runs its own code."""
    config_path = workdir / "vipproxy.yaml"
    if (checkout / "proxy" / "store").is_dir():  # older checkouts have no state_dir
        # Its store (the route-token secret) lives with the run's files unless set.
        config = {"state_dir": str(workdir / "vipproxy-state"), **config}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    argv = [sys.executable, "-m", "proxy", "run", "--config", str(config_path)]
    return ManagedProcess(proxy.name, argv, checkout, workdir / "vipproxy.log")


def _launch_vipproxy(proxy: ProxyUnderTest, fork: Fork, workdir: Path,
                     checkout: Path = REPO_ROOT) -> ManagedProcess:
    return vipproxy_process(proxy, vipproxy_config(proxy, fork), workdir, checkout)


# Kamailio as its operators run it for load: the TLSF allocator for shared and
# private memory (Debian's default, q_malloc, costs it 2-4x the CPU per call on
# this bench), and shared memory for the transactions of the rates measured: tm
# keeps each for up to 32 s, about 150k at 5,000 calls/s.
KAMAILIO_MEMORY = ("-x", "tlsf", "-X", "tlsf", "-m", "1024")
KAMAILIO_AS_RUN = "Kamailio with the TLSF allocator (-x tlsf -X tlsf), 1024 MB shared memory"


def _launch_kamailio(proxy: ProxyUnderTest, fork: Fork, workdir: Path) -> ManagedProcess:
    if fork.phones is not None:
        raise ProcessFailed("kamailio.cfg has no registrar: its callees are static")
    runtime_dir = workdir / "kamailio-run"
    runtime_dir.mkdir(exist_ok=True)
    argv = [
        "kamailio", "-DD", "-E",  # stay in the foreground, log to stderr
        "-f", str(KAMAILIO_CONFIG),
        "-l", f"udp:{proxy.host}:{proxy.port}",
        "-Y", str(runtime_dir), "-P", str(runtime_dir / "kamailio.pid"),
        "-w", str(runtime_dir),
        *KAMAILIO_MEMORY,
        "-A", f'BENCH_SERVICE="{fork.service}"',
        "-A", f'BENCH_CALLEE_A="{fork.callee_uris[0]}"',
        "-A", f'BENCH_CALLEE_B="{fork.callee_uris[1]}"',
    ]
    return ManagedProcess(proxy.name, argv, runtime_dir, workdir / "kamailio.log")


# vipproxy started from another checkout (--baseline), to compare in the same run.
BASELINE = "vipproxy@base"


# Where each vipproxy's workers take their own ports on the proxy's host: a block
# of MAX_WORKERS each, apart from the proxies' ports (15060, 15070, 15080), the
# callees' and caller's (5070-5090, controls 28842-28845) and below the ephemeral
# range (32768 up on Linux) from which the caller's per-call sockets take theirs.
WORKER_PORTS = {"vipproxy": 15100, BASELINE: 15100 + MAX_WORKERS}


def known_proxies(host: str, baseline: Path | None = None,
                  workers: int | None = None) -> dict[str, ProxyUnderTest]:
    """Every proxy the bench knows, each on its own port of `host`; with `baseline`,
    also vipproxy from that checkout (static callees only: it may have no registrar).
    With `workers`, each vipproxy runs that many worker processes (Kamailio runs its
    own children, as kamailio.cfg says)."""
    proxies = {
        "vipproxy": ProxyUnderTest("vipproxy", host, 15060, _launch_vipproxy,
                                   registrar=True, delegation=True, reports_leftovers=True,
                                   workers=workers, first_worker_port=WORKER_PORTS["vipproxy"]),
        "kamailio": ProxyUnderTest("kamailio", host, 15070, _launch_kamailio),
    }
    if baseline is not None:
        proxies[BASELINE] = ProxyUnderTest(
            BASELINE, host, 15080, partial(_launch_vipproxy, checkout=baseline.resolve()),
            workers=workers, first_worker_port=WORKER_PORTS[BASELINE])
    return proxies


def kamailio_installed() -> bool:
    """Whether the kamailio binary is on PATH."""
    return shutil.which("kamailio") is not None
