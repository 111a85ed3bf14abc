"""The assistant console in a real browser: headless chromium (tests/e2e/browser.py)
opening the page the real proxy serves at /console, while SIPp phones call.

Alice (line 1000) delegates to Bob. Bob signs in on a phone-sized screen and
watches Alice's line: idle, ringing, in use, held, in use, idle; then the call is
on top of the history, answered by Alice, with its routing decision in words.
Dana, invited as in the example configuration, accepts Alice's invitation in the
page, sees Alice's line appear and the next call ring her. On a desk-sized
screen, Carol (Alice's VIP contact) calls: the ringing line stands out with her
name, and the missed call tops the history; the explain form answers with the
keyboard alone. A screenshot of each state is saved
in the test's temporary directory (``screenshots/``), not compared with anything.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select

from proxy.store import open_store

from .browser import DESKTOP_WINDOW, start_chromium
from .conftest import StartProxy
from .delegation_support import LINE
from .loopback import Endpoint, LoopbackAllocator, wait_until
from .sipp import SippLauncher, assert_all_passed
from .test_api import PASSWORDS, api_office, client
from .test_api_events import office_where_alice_holds
from .test_history import an_old_call, database

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


# Each state the line card shows, with its classes and text, recorded by the page
# as it changes: a VIP's call rings one second, shorter than a check from here takes.
RECORD_CARDS = """
const line = arguments[0];
window.seenCards = [];
new MutationObserver(() => {
  const card = document.querySelector(`li[data-line="${line}"]`);
  if (card) window.seenCards.push([card.dataset.state, card.className, card.innerText]);
}).observe(document.getElementById("lines"), {subtree: true, childList: true});
"""
FIRST_CALL = "#history li.call"


@pytest.fixture
def desktop_chromium(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    browser = start_chromium(tmp_path / "chromium", window=DESKTOP_WINDOW)
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


def office(api: Endpoint, phones: Mapping[str, str] | None = None,
           **policies: str) -> dict[str, Any]:
    """The API office where the users of ``phones`` have those phones and the others
    none that answers."""
    endpoints = {user: f"sip:{user}@127.0.0.1:9" for user in PASSWORDS}
    return api_office({**endpoints, **(phones or {})}, api, **policies)


def scroll_to(browser: webdriver.Chrome, element_id: str) -> None:
    """Bring a panel into the window, for the screenshot that follows."""
    browser.execute_script("document.getElementById(arguments[0]).scrollIntoView();",
                           element_id)


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

    # The call just over is on top of the history, newest first, with its decision.
    assert wait_until(lambda: read(chromium, FIRST_CALL, "dataset.answeredBy") == "alice",
                      3.0), read(chromium, "#history", "innerText")
    outcome = read(chromium, f"{FIRST_CALL} .outcome", "textContent") or ""
    assert outcome.startswith("answered · answered by Alice · 0:"), outcome
    assert read(chromium, f"{FIRST_CALL} .decision", "textContent") == (
        "other caller: ring me only; alice answered")
    scroll_to(chromium, "history-panel")
    chromium.save_screenshot(str(shots / "9-history.png"))
    saved = sorted(path.name for path in shots.iterdir())
    assert {name.split("-", 1)[1] for name in saved} == {"idle.png", "ringing.png",
                                                          "in_use.png", "held.png",
                                                          "history.png"}, saved


def test_dana_accepts_alices_invitation_in_the_console_and_the_next_call_rings_her(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator,
    chromium: webdriver.Chrome, tmp_path: Path
) -> None:
    api = loopback.endpoint()
    # Dana's phone rings 300 ms before she answers (the office's ring timeout is
    # 1 s): a ringing that lasts only as long as the 180 and the 200 take can reach
    # the page in one read, and the page then shows only the second.
    dana_phone = sipp.uas("dana", "uas_answer.xml", timeout=20.0, pause_ms=300)
    proxy = vipproxy({}, directory=office(api, {"dana": dana_phone.uri("dana")},
                                          other_callers="ring_delegates_only"))
    with client(api, "alice") as alice:
        invited = alice.put("/delegations/alice/delegates/dana",
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

    sign_in(chromium, api, "dana")
    invitation = 'li.invitation[data-delegator="alice"]'
    assert wait_until(lambda: chromium.find_elements(By.CSS_SELECTOR, invitation), 5.0), \
        chromium.page_source
    assert line_state(chromium) is None  # invited, not yet accepted (the seed's Dana): not her line
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
    caller_result, dana_result = sipp.finish(caller, dana_phone)
    assert_all_passed(caller_result, dana_result)  # the call rang Dana, and she answered
    assert wait_until(lambda: line_state(chromium) == "idle", 3.0)
    seen = chromium.execute_script("return window.seenStates;")
    assert seen == ["idle", "ringing", "in_use", "idle"], seen
    assert "In use by Dana" in card, card


def test_a_vip_callers_ringing_line_stands_out_and_the_missed_call_tops_the_history(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator,
    desktop_chromium: webdriver.Chrome, tmp_path: Path
) -> None:
    api = loopback.endpoint()
    # Alice rings for her 1 s ring timeout and nobody else is rung: the call is missed.
    alice = sipp.uas("alice", "uas_ring_until_cancel.xml", timeout=20.0)
    proxy = vipproxy({}, directory=office(api, {"alice": alice.uri("alice")}))
    browser = desktop_chromium
    shots = tmp_path / "screenshots"
    shots.mkdir()
    sign_in(browser, api, "bob")
    assert wait_until(lambda: line_state(browser) == "idle", 5.0), browser.page_source
    browser.execute_script(RECORD_CARDS, LINE)
    browser.save_screenshot(str(shots / "desktop-0-idle.png"))

    # Carol's number as her phone sends it, with a display name the page must not
    # trust: the name shown is the contact's, the one the routing decision matched.
    caller = sipp.uac("carol", "uac_expect_failure.xml", remote=proxy.endpoint, service=LINE,
                      keys={"caller": "4155550199", "caller_name": "Not Carol"})
    assert wait_until(lambda: line_state(browser) == "ringing", 3.0), browser.page_source
    browser.save_screenshot(str(shots / "desktop-1-ringing-vip.png"))
    assert_all_passed(*sipp.finish(caller, alice))
    assert wait_until(lambda: line_state(browser) == "idle", 3.0)

    cards = browser.execute_script("return window.seenCards;")
    ringing = [card for card in cards if card[0] == "ringing"]
    assert ringing, cards
    for _, classes, text in ringing:
        assert "vip" in classes.split(), (classes, text)
        assert "VIP caller: Carol Ng" in text and "VIP" in text.split(), text
        assert "Not Carol" not in text, text
    assert all("vip" not in classes.split() for state, classes, _ in cards
               if state == "idle"), cards

    assert wait_until(lambda: read(browser, FIRST_CALL, "dataset.outcome") == "missed", 3.0), \
        read(browser, "#history", "innerText")
    assert read(browser, f"{FIRST_CALL} .decision", "textContent") == (
        "VIP contact Carol Ng: ring me only; alice did not answer in 1 s; nobody answered")
    assert "VIP" in (read(browser, f"{FIRST_CALL} h3", "textContent") or "")
    scroll_to(browser, "history-panel")
    browser.save_screenshot(str(shots / "desktop-2-history.png"))

    # Filtered by outcome: no call was answered.
    Select(browser.find_element(By.ID, "history-outcome")).select_by_value("answered")
    assert wait_until(lambda: read(browser, "#history-status", "textContent") == "No calls.",
                      3.0), read(browser, "#history-status", "textContent")
    assert read(browser, FIRST_CALL, "dataset.outcome") is None
    browser.save_screenshot(str(shots / "desktop-3-filtered.png"))


def test_the_explain_form_says_why_a_call_would_go_where_it_goes_keyboard_only(
    vipproxy: StartProxy, loopback: LoopbackAllocator, chromium: webdriver.Chrome,
    tmp_path: Path
) -> None:
    api = loopback.endpoint()
    vipproxy({}, directory=office(api, vip_callers="ring_me_then_delegates"))
    sign_in(chromium, api, "bob")
    assert wait_until(lambda: line_state(chromium) == "idle", 5.0), chromium.page_source
    assert wait_until(lambda: read(chromium, f'#explain-line option[value="{LINE}"]',
                                   "value") == LINE, 3.0)

    form = chromium.find_element(By.ID, "explain-caller")
    form.send_keys("+1 415 555 0199")
    # The line, then the button, are the next stops of the keyboard.
    form.send_keys(Keys.TAB)
    assert chromium.switch_to.active_element.get_attribute("id") == "explain-line"
    Select(chromium.switch_to.active_element).select_by_value(LINE)
    chromium.switch_to.active_element.send_keys(Keys.TAB)
    assert chromium.switch_to.active_element.text == "Explain"
    chromium.switch_to.active_element.send_keys(Keys.ENTER)

    assert wait_until(lambda: read(chromium, "#explain-answer", "textContent"), 3.0), \
        read(chromium, "#explain-error", "textContent")
    answer = read(chromium, "#explain-answer", "textContent") or ""
    assert "VIP: yes, Carol Ng" in answer, answer
    assert "policy: ring_me_then_delegates" in answer, answer
    assert read(chromium, "#explain-result", "textContent") == (
        "Routed by the ring me then delegates policy.")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    scroll_to(chromium, "explain-panel")
    chromium.save_screenshot(str(shots / "explained.png"))


async def _calls_before(url: str, now: float) -> None:
    """Twelve calls on alice's line 1000, one a minute, the newest missed ones
    first; and one on bob's own line 1001, an hour ago."""
    store = await open_store(url)
    for minutes in range(12):
        store.add_call(replace(an_old_call(now - 60 * (minutes + 1)),
                               call_id=f"call-{minutes}",
                               outcome="missed" if minutes < 3 else "busy"))
    store.add_call(replace(an_old_call(now - 3600), call_id="bobs", line="1001",
                           delegator="bob", rung="bob"))
    await store.close()


def test_the_history_pages_back_and_filters_by_line_and_outcome(
    vipproxy: StartProxy, loopback: LoopbackAllocator, chromium: webdriver.Chrome,
    tmp_path: Path
) -> None:
    api = loopback.endpoint()
    keys, url = database("sqlite", tmp_path)
    asyncio.run(_calls_before(url, time.time()))
    vipproxy({}, directory={**office(api), **keys})
    sign_in(chromium, api, "bob")

    def shown() -> list[str]:
        found = chromium.execute_script(
            "return [...document.querySelectorAll('#history li.call')]"
            ".map((call) => call.dataset.callId);")
        assert isinstance(found, list)
        return found

    def status() -> str:
        return read(chromium, "#history-status", "textContent") or ""

    # Newest first, ten a page.
    assert wait_until(lambda: status() == "Calls 1 to 10 of 13, newest first.", 5.0), status()
    assert shown() == [f"call-{minutes}" for minutes in range(10)]
    newer = chromium.find_element(By.ID, "history-newer")
    older = chromium.find_element(By.ID, "history-older")
    assert not newer.is_enabled() and older.is_enabled()
    older.send_keys(Keys.ENTER)
    assert wait_until(lambda: status() == "Calls 11 to 13 of 13, newest first.", 3.0), status()
    assert shown() == ["call-10", "call-11", "bobs"]
    assert newer.is_enabled() and not older.is_enabled()
    # The last page disabled the button pressed; the keyboard is on the other one.
    assert wait_until(lambda: chromium.switch_to.active_element == newer, 1.0)
    chromium.switch_to.active_element.send_keys(Keys.ENTER)
    assert wait_until(lambda: shown()[:1] == ["call-0"], 3.0), shown()

    # By line, then by outcome too: each filter starts again at the newest call.
    Select(chromium.find_element(By.ID, "history-line")).select_by_value("1001")
    assert wait_until(lambda: shown() == ["bobs"], 3.0), shown()
    Select(chromium.find_element(By.ID, "history-line")).select_by_value(LINE)
    Select(chromium.find_element(By.ID, "history-outcome")).select_by_value("missed")
    assert wait_until(lambda: shown() == ["call-0", "call-1", "call-2"], 3.0), shown()
    assert status() == "Calls 1 to 3 of 3, newest first."
    shots = tmp_path / "screenshots"
    shots.mkdir()
    scroll_to(chromium, "history-panel")
    chromium.save_screenshot(str(shots / "history-filtered.png"))
