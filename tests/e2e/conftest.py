"""Fixtures for the end-to-end tests: the real proxy, SIPp peers, baresip.

- ``loopback``: hands out fresh 127.x.y.z endpoints for the whole session.
- ``vipproxy``: ``vipproxy(routes, directory=None, endpoint=None)`` starts a
  proxy listening over UDP and TCP on a fresh endpoint (or on ``endpoint``, to
  restart one where it was) and returns its :class:`ProxyProcess`.
- ``sipp``: a :class:`SippLauncher` (``sipp.uas(...)``, then ``sipp.uac(...)``).
- ``baresip``: ``baresip(user)`` starts an auto-answering phone;
  ``baresip(user, registration)`` one that registers through the proxy.
- ``linphone``: ``linphone(user, proxy, ...)`` starts a linphonec that registers
  through the proxy (Debian's linphone-cli: SHA-256 digest).
- ``udp_probe``: ``udp_probe()`` opens a :class:`UdpProbe` on a fresh endpoint
  (or ``udp_probe(endpoint)``), a hand-written caller, callee or listener.

Every process is stopped when the test ends.  When a test fails, the proxy's
configuration and log, each SIPp process's message flow and unexpected
messages, and baresip's and linphonec's output are attached to the failure report.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import Any, Protocol

import pytest
from selenium import webdriver

from .baresip import BaresipPhone, Registration
from .browser import start_chromium
from .linphone import LinphonePhone
from .loopback import Endpoint, LoopbackAllocator
from .proxy_process import ProxyProcess, proxy_config
from .sipp import SippLauncher
from .udp_probe import UdpProbe

Reporter = tuple[str, Callable[[], str]]
_REPORTERS = pytest.StashKey[list[Reporter]]()


class StartProxy(Protocol):
    """The ``vipproxy`` fixture: start a proxy with these routes (and directory),
    on a fresh endpoint unless ``endpoint`` names one."""

    def __call__(
        self,
        routes: Mapping[str, Any],
        directory: Mapping[str, Any] | None = None,
        *,
        endpoint: Endpoint | None = None,
    ) -> ProxyProcess: ...


class StartPhone(Protocol):
    """The ``baresip`` fixture: an auto-answering phone for ``user``, registering
    as ``registration`` says when one is given."""

    def __call__(self, user: str, registration: Registration | None = None) -> BaresipPhone: ...


class OpenProbe(Protocol):
    """The ``udp_probe`` fixture: a UDP socket on ``endpoint`` or a fresh one."""

    def __call__(self, endpoint: Endpoint | None = None) -> UdpProbe: ...


def _attach(request: pytest.FixtureRequest, title: str, reporter: Callable[[], str]) -> None:
    request.node.stash.setdefault(_REPORTERS, []).append((title, reporter))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the logs of every process the test started to a failed test's report."""
    report = yield
    if report.failed and report.when in ("setup", "call"):
        for title, reporter in item.stash.get(_REPORTERS, []):
            report.sections.append((title, _safely(reporter)))
    return report


def _safely(reporter: Callable[[], str]) -> str:
    """A report, or why it could not be made: a broken report must not hide the failure."""
    try:
        return reporter()
    except Exception as error:  # any failure here is only reported, never raised
        return f"(could not collect this report: {error!r})"


@pytest.fixture(scope="session")
def loopback() -> LoopbackAllocator:
    """Fresh loopback endpoints, unique for this pytest session."""
    return LoopbackAllocator()


@pytest.fixture
def vipproxy(
    request: pytest.FixtureRequest, tmp_path: Path, loopback: LoopbackAllocator
) -> Generator[StartProxy, None, None]:
    """Start real vipproxy processes; each is stopped (SIGTERM, then SIGKILL) at the end."""
    started: list[ProxyProcess] = []

    def start(
        routes: Mapping[str, Any],
        directory: Mapping[str, Any] | None = None,
        *,
        endpoint: Endpoint | None = None,
    ) -> ProxyProcess:
        endpoint = endpoint or loopback.endpoint()
        name = f"proxy{len(started) + 1}"
        process = ProxyProcess(name, proxy_config(endpoint, routes, directory), endpoint, tmp_path)
        started.append(process)
        _attach(request, f"vipproxy {name}", process.report)
        process.wait_listening()
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def sipp(
    request: pytest.FixtureRequest, tmp_path: Path, loopback: LoopbackAllocator
) -> Generator[SippLauncher, None, None]:
    """Start SIPp callers and callees; whatever still runs is stopped at the end."""
    launcher = SippLauncher(tmp_path, loopback)
    _attach(request, "SIPp processes", launcher.report)
    yield launcher
    launcher.stop_all()


@pytest.fixture
def baresip(
    request: pytest.FixtureRequest, tmp_path: Path, loopback: LoopbackAllocator
) -> Generator[StartPhone, None, None]:
    """Start auto-answering baresip phones; each is killed at the end."""
    phones: list[BaresipPhone] = []

    def start(user: str, registration: Registration | None = None) -> BaresipPhone:
        phone = BaresipPhone(user, loopback.endpoint(), tmp_path / f"baresip-{user}",
                             registration=registration)
        phones.append(phone)
        _attach(request, f"baresip {user}", phone.report)
        phone.wait_listening()
        return phone

    yield start
    for phone in phones:
        phone.stop()


@pytest.fixture
def linphone(
    request: pytest.FixtureRequest, tmp_path: Path, loopback: LoopbackAllocator
) -> Generator[Callable[..., LinphonePhone], None, None]:
    """Start registering linphonec phones; each quits (or is killed) at the end."""
    phones: list[LinphonePhone] = []

    def start(user: str, **registration: Any) -> LinphonePhone:
        phone = LinphonePhone(user, loopback.endpoint(), tmp_path / f"linphone-{user}",
                              **registration)
        phones.append(phone)
        _attach(request, f"linphonec {user}", phone.report)
        phone.wait_listening()
        return phone

    yield start
    for phone in phones:
        phone.stop()


@pytest.fixture
def udp_probe(loopback: LoopbackAllocator) -> Generator[OpenProbe, None, None]:
    """Open UDP probes (hand-written callers, callees, listeners); each is closed at the end."""
    probes: list[UdpProbe] = []

    def open_probe(endpoint: Endpoint | None = None) -> UdpProbe:
        probe = UdpProbe(endpoint or loopback.endpoint())
        probes.append(probe)
        return probe

    yield open_probe
    for probe in probes:
        probe.close()


@pytest.fixture
def chromium(tmp_path: Path) -> Generator[webdriver.Chrome, None, None]:
    """Headless Chromium on a phone-sized screen (tests/e2e/browser.py) for the
    console's tests, quit after the test."""
    browser = start_chromium(tmp_path / "chromium")
    yield browser
    browser.quit()
