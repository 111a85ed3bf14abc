"""The assistant console in a real browser: headless chromium (tests/e2e/browser.py)
opening the page the real proxy serves at /console, while SIPp phones call.

Alice (line 1000) delegates to Bob. Bob signs in on a phone-sized screen and
watches Alice's line: idle, ringing, in use, held, in use, idle. Erin accepts
Alice's invitation in the page, sees Alice's line appear and the next call ring her.
A screenshot of each state is saved in the test's temporary directory
(``screenshots/``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from .browser import start_chromium
from .conftest import StartProxy
from .delegation_support import LINE
from .loopback import Endpoint, LoopbackAllocator, wait_until
from .sipp import SippLauncher, assert_all_passed
from .test_api import PASSWORDS, api_office, client
from .test_api_events import office_where_alice_holds

pytestmark = pytest.mark.e2e

# Every state the line card shows, recorded by the page as it changes, so that a
# state shorter than a screenshot takes is still seen.
RECORD_STATES = """
const line = arguments[0];
window.seenStates = [];
const record = () => {
  const card = document.querySelector(`li[data-line="${line}"]`);
  const now = card ? card.dataset.state : null;
  if (now && window.seenStates[window.seenStates.length - 1] !== now) {
    window.seenStates.push(now);
  }
};
new MutationObserver(record).observe(document.getElementById("lines"),
                                     {subtree: true, childList: true, attributes: true});
record();
"""


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    browser = start_chromium(tmp_path / "chromium")
    yield browser
    browser.quit()


def sign_in(browser: webdriver.Chrome, api: Endpoint, user: str,
            password: str | None = None) -> None:
    browser.get(f"http://{api}/console")
    assert browser.current_url == f"http://{api}/console/", (browser.current_url,
                                                             browser.page_source)
    browser.find_element(By.ID, "username").send_keys(user)
    browser.find_element(By.ID, "password").send_keys(password or PASSWORDS[user])
    browser.find_element(By.CSS_SELECTOR, "#sign-in button[type=submit]").click()


def line_state(browser: webdriver.Chrome) -> str | None:
    return read(browser, f'li[data-line="{LINE}"]', "dataset.state")


def line_text(browser: webdriver.Chrome) -> str:
    return read(browser, f'li[data-line="{LINE}"]', "innerText") or ""


def read(browser: webdriver.Chrome, selector: str, attribute: str) -> str | None:
    """One property of the element ``selector`` finds, read in one step in the page:
    the page redraws the line cards at every event, so an element found first and
    read next may be gone (a stale reference)."""
    value = browser.execute_script(
        f"const found = document.querySelector(arguments[0]);"
        f" return found ? found.{attribute} : null;", selector)
    assert value is None or isinstance(value, str), value
    return value


def test_bob_watches_alices_line_ring_answered_held_and_idle_in_the_console(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator,
    chromium: webdriver.Chrome, tmp_path: Path
) -> None:
    api = loopback.endpoint()
    proxy, alice = office_where_alice_holds(vipproxy, sipp, api)
    shots = tmp_path / "screenshots"
    shots.mkdir()

    sign_in(chromium, api, "bob")
    assert wait_until(lambda: line_state(chromium) == "idle", 5.0), chromium.page_source
    assert not chromium.find_element(By.ID, "sign-in").is_displayed()
    assert "Bob" in chromium.find_element(By.ID, "who").text
    chromium.execute_script(RECORD_STATES, LINE)
    chromium.save_screenshot(str(shots / "0-idle.png"))

    caller = sipp.uac("caller", "uac_call_held.xml", remote=proxy.endpoint, service=LINE,
                      timeout=20.0)
    started = time.monotonic()
    shown: list[str] = []
    while time.monotonic() - started < 10.0 and shown[-1:] != ["idle"]:
        state = line_state(chromium)
        if state is not None and state != (shown[-1] if shown else "idle"):
            shown.append(state)
            if state == "ringing":
                assert time.monotonic() - started < 1.0 + 0.5  # SIPp's own start included
                card = line_text(chromium)
                assert "From " in card and "Ringing Alice" in card, card
            chromium.save_screenshot(str(shots / f"{len(shown)}-{state}.png"))
        time.sleep(0.02)
    assert_all_passed(*sipp.finish(caller, alice))

    seen = chromium.execute_script("return window.seenStates;")
    assert seen == ["idle", "ringing", "in_use", "held", "in_use", "idle"], (seen, shown)
    saved = sorted(path.name for path in shots.iterdir())
    assert {name.split("-", 1)[1] for name in saved} == {"idle.png", "ringing.png",
                                                          "in_use.png", "held.png"}, saved


def test_erin_accepts_alices_invitation_in_the_console_and_the_next_call_rings_her(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator,
    chromium: webdriver.Chrome, tmp_path: Path
) -> None:
    api = loopback.endpoint()
    erin_phone = sipp.uas("erin", "uas_answer.xml", timeout=20.0)
    proxy = vipproxy({}, directory=api_office(
        {"alice": "sip:alice@127.0.0.1:9", "bob": "sip:bob@127.0.0.1:9",
         "erin": erin_phone.uri("erin")}, api, other_callers="ring_delegates_only"))
    with client(api, "alice") as alice:
        invited = alice.put("/delegations/alice/delegates/erin",
                            json={"privileges": ["answer_calls"]})
        assert invited.status_code == 200, invited.text
    with client(api) as nobody:
        assert nobody.get("/console").headers["location"] == "/console/"
        page = nobody.get("/console/")
    # Nobody frames the page (its buttons act for the user) nor does it talk elsewhere.
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"], page.headers
    assert "default-src 'self'" in page.headers["content-security-policy"]
    shots = tmp_path / "screenshots"
    shots.mkdir()

    sign_in(chromium, api, "erin")
    invitation = 'li.invitation[data-delegator="alice"]'
    assert wait_until(lambda: chromium.find_elements(By.CSS_SELECTOR, invitation), 5.0), \
        chromium.page_source
    assert line_state(chromium) is None  # not Alice's delegate yet: not her line
    chromium.save_screenshot(str(shots / "0-invited.png"))
    accept = chromium.find_element(By.CSS_SELECTOR, f"{invitation} button")
    assert accept.text == "Accept"
    accept.click()

    assert wait_until(lambda: line_state(chromium) == "idle", 3.0), chromium.page_source
    # The stream may show the line before the page has read the invitations again.
    assert wait_until(lambda: read(chromium, invitation, "dataset.status") == "accepted", 3.0)
    chromium.execute_script(RECORD_STATES, LINE)
    chromium.save_screenshot(str(shots / "1-accepted.png"))

    caller = sipp.uac("caller", "uac_call.xml", remote=proxy.endpoint, service=LINE)
    assert wait_until(lambda: line_state(chromium) == "in_use", 5.0), chromium.page_source
    card = line_text(chromium)
    chromium.save_screenshot(str(shots / "2-in_use.png"))
    caller_result, erin_result = sipp.finish(caller, erin_phone)
    assert_all_passed(caller_result, erin_result)  # the call rang Erin, and she answered
    assert wait_until(lambda: line_state(chromium) == "idle", 3.0)
    seen = chromium.execute_script("return window.seenStates;")
    assert seen == ["idle", "ringing", "in_use", "idle"], seen
    assert "In use by Erin" in card, card
