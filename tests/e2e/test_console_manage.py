"""The console's management panels in a real browser (tests/e2e/browser.py) against
the real proxy, with SIPp phones where a call proves a change.

Alice (line 1000) delegates to Bob, who answers her calls and manages her VIP
contacts, and to Eve, who only answers them (an accepted delegate without
``manage_vip_contacts``, as the outbound tests' Eve); Erin is nobody's delegate.
VIP callers ring Alice only; the others ring her delegates only. Each state is
saved as a screenshot at a phone's and a desk's size in the test's temporary
directory (``screenshots/``); at both sizes the page must not scroll sideways.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select

from .browser import PHONE_WINDOW
from .conftest import StartProxy
from .delegation_support import LINE, office, route_decisions
from .loopback import Endpoint, LoopbackAllocator, wait_until
from .proxy_process import ProxyProcess
from .sipp import SippLauncher, SippProcess, assert_all_passed
from .test_api import ADMIN_TOKEN, REALM
from .test_console import sign_in

pytestmark = pytest.mark.e2e

DESK_WINDOW = (1280, 900)
BOB = {"privileges": ["answer_calls", "manage_vip_contacts"], "status": "accepted"}
EVE = {"privileges": ["answer_calls"], "status": "accepted"}
EVE_LINE = "1005"
NEW_VIP = "+1 (415) 555-0142"  # Victor, whom Bob adds as Alice's VIP contact
NEW_VIP_CALLING = "14155550142"  # the same number as his phone sends it
NOWHERE = "sip:nobody@127.0.0.1:9"


def password(user: str) -> str:
    return f"{user}-secret"


def manage_office(phones: Mapping[str, str], api: Endpoint, *,
                  other_callers: str = "ring_delegates_only",
                  locked: bool = False) -> dict[str, Any]:
    """Alice, Bob, Erin (``phones``: user -> SIP URI, else nowhere) and Eve, each with
    a password; the API on ``api``."""
    sections = office({user: phones.get(user, NOWHERE) for user in ("alice", "bob", "erin")},
                      vip_callers="ring_me_only", other_callers=other_callers,
                      delegates={"bob": BOB, "eve": EVE})
    sections["users"]["eve"] = {"name": "Eve", "lines": [EVE_LINE],
                                "endpoints": [phones.get("eve", NOWHERE)]}
    for user, entry in sections["users"].items():
        entry["auth"] = {"password": password(user)}
    sections["delegations"]["alice"]["locked"] = locked
    sections["auth"] = {"realm": REALM, "algorithms": ["MD5"]}
    sections["api"] = {"listen": f"{api.host}:{api.port}", "admin_token": ADMIN_TOKEN}
    return sections


def as_user(api: Endpoint, user: str) -> httpx.Client:
    return httpx.Client(base_url=f"http://{api}", timeout=5.0, auth=(user, password(user)))


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder


def snap(browser: webdriver.Chrome, shots: Path, name: str) -> None:
    """Screenshots of the whole page as it is, at a phone's width then a desk's;
    neither may need a sideways scroll (a control pushed off a phone's screen)."""
    for label, (width, height) in (("phone", PHONE_WINDOW), ("desk", DESK_WINDOW)):
        browser.set_window_size(width, height)
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
        assert overflow <= 0, f"{name} at {label} size scrolls sideways by {overflow}px"
        tall = browser.execute_script("return document.documentElement.scrollHeight;")
        browser.set_window_size(width, min(max(height, tall + 100), 5000))
        browser.save_screenshot(str(shots / f"{name}-{label}.png"))
    browser.set_window_size(*PHONE_WINDOW)


def find(browser: webdriver.Chrome, selector: str) -> list[WebElement]:
    return browser.find_elements(By.CSS_SELECTOR, selector)


def appears(browser: webdriver.Chrome, selector: str, timeout: float = 5.0) -> WebElement:
    """The element ``selector`` finds once it is there (the panels draw after
    reading the API)."""
    assert wait_until(lambda: find(browser, selector), timeout), (selector, browser.page_source)
    return find(browser, selector)[0]


def text_of(browser: webdriver.Chrome, selector: str) -> str:
    value = browser.execute_script(
        "const found = document.querySelector(arguments[0]);"
        " return found ? found.innerText : '';", selector)
    assert isinstance(value, str)
    return value


def field(block: WebElement, label: str) -> WebElement:
    """The control ``label`` names inside ``block`` (found by its <label>, as a
    screen reader would)."""
    for tag in block.find_elements(By.TAG_NAME, "label"):
        if tag.text == label:
            return block.find_element(By.ID, tag.get_attribute("for") or "")
    raise AssertionError(f"no field labelled {label!r} in {block.get_attribute('outerHTML')}")


ALICES_VIPS = 'section.vip-block[data-delegator="alice"]'


def call(sipp: SippLauncher, proxy: ProxyProcess, caller: str) -> SippProcess:
    return sipp.uac("caller", "uac_call.xml", remote=proxy.endpoint, service=LINE,
                    keys={"caller": caller})


def test_bob_adds_a_vip_contact_in_the_page_and_the_next_call_from_it_rings_alice_only(
    vipproxy: StartProxy, sipp: SippLauncher, loopback: LoopbackAllocator,
    chromium: webdriver.Chrome, shots: Path
) -> None:
    api = loopback.endpoint()
    alice = sipp.uas("alice", "uas_answer.xml", timeout=30.0)
    bob = sipp.uas("bob", "uas_answer.xml", timeout=30.0)
    proxy = vipproxy({}, directory=manage_office(
        {"alice": alice.uri("alice"), "bob": bob.uri("bob")}, api))

    sign_in(chromium, api, "bob")
    block = appears(chromium, f'{ALICES_VIPS}[data-allowed="true"] form')
    assert "Carol Ng" in text_of(chromium, ALICES_VIPS)
    snap(chromium, shots, "0-bob-signed-in")

    field(block, "First name").send_keys("Victor")
    field(block, "Company").send_keys("Acme")
    field(block, "Numbers (one a line; a label after a comma)").send_keys(f"{NEW_VIP}, mobile")
    block.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert wait_until(lambda: "Victor" in text_of(chromium, ALICES_VIPS), 5.0), \
        chromium.page_source
    assert "+1 (415) 555-0142 (mobile)" in text_of(chromium, ALICES_VIPS)
    assert chromium.switch_to.active_element.get_attribute("id") == "vip-status"
    assert "Victor added to Alice's VIP contacts." in text_of(chromium, "#vip-status")
    snap(chromium, shots, "1-bob-added-victor")

    with as_user(api, "alice") as alice_api:
        contacts = alice_api.get("/delegations/alice").json()["vip_contacts"]
    assert contacts[-1] == {"first_name": "Victor", "company": "Acme",
                            "numbers": [{"number": NEW_VIP, "label": "mobile"}]}, contacts

    # Victor calls: the VIP policy rings Alice only, not her delegate Bob.
    caller = call(sipp, proxy, NEW_VIP_CALLING)
    assert_all_passed(*sipp.finish(caller, alice))
    assert not bob.received_so_far("INVITE"), "the VIP policy rings Alice only"
    decisions = [(event["policy"], event["vip"]) for event in route_decisions(proxy)]
    assert decisions == [("ring_me_only", True)], decisions


def test_a_refused_contact_shows_the_apis_problems_then_bob_edits_and_removes_one(
    vipproxy: StartProxy, loopback: LoopbackAllocator, chromium: webdriver.Chrome, shots: Path
) -> None:
    api = loopback.endpoint()
    vipproxy({}, directory=manage_office({}, api))
    sign_in(chromium, api, "bob")
    block = appears(chromium, f'{ALICES_VIPS}[data-allowed="true"] form')
    field(block, "First name").send_keys("Carol again")
    # Carol's number already, written another way: the file's rule, by its path.
    field(block, "Numbers (one a line; a label after a comma)").send_keys("4155550199")
    block.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    problems = f"{ALICES_VIPS} .problems"
    assert wait_until(lambda: text_of(chromium, problems), 5.0), chromium.page_source
    assert text_of(chromium, problems) == (
        "delegations.alice.vip_contacts[1].numbers[0]: +14155550199 is already a number of"
        " vip_contacts[0]")
    assert chromium.switch_to.active_element.get_attribute("class") == "problems error"
    snap(chromium, shots, "0-refused")

    # Bob edits Carol instead (her number gets a label), then removes her.
    appears(chromium, f"{ALICES_VIPS} button[aria-label='Edit Carol Ng']").click()
    block = find(chromium, f"{ALICES_VIPS} form")[0]
    assert chromium.switch_to.active_element == field(block, "First name")
    numbers = field(block, "Numbers (one a line; a label after a comma)")
    assert numbers.get_attribute("value") == "+1 (415) 555-0199"
    numbers.send_keys(", office")
    block.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert wait_until(lambda: "(office)" in text_of(chromium, ALICES_VIPS), 5.0)
    with as_user(api, "bob") as bob:
        assert bob.get("/delegations/alice").json()["vip_contacts"] == [{
            "first_name": "Carol", "last_name": "Ng",
            "numbers": [{"number": "+1 (415) 555-0199", "label": "office"}]}]
    snap(chromium, shots, "1-edited")
    appears(chromium, f"{ALICES_VIPS} button[aria-label='Remove Carol Ng']").click()
    assert wait_until(lambda: "No VIP contacts." in text_of(chromium, ALICES_VIPS), 5.0)
    with as_user(api, "bob") as bob:
        assert bob.get("/delegations/alice").json()["vip_contacts"] == []


def test_eve_has_no_add_button_and_is_told_why_and_the_api_refuses_her(
    vipproxy: StartProxy, loopback: LoopbackAllocator, chromium: webdriver.Chrome, shots: Path
) -> None:
    api = loopback.endpoint()
    vipproxy({}, directory=manage_office({}, api))

    sign_in(chromium, api, "eve", password("eve"))
    block = appears(chromium, f'{ALICES_VIPS}[data-allowed="false"]')
    assert "Carol Ng" in block.text
    assert not block.find_elements(By.CSS_SELECTOR, "form, button, input, textarea")
    assert block.find_element(By.CSS_SELECTOR, ".reason").text == (
        "You cannot change these: eve is not an accepted delegate of alice with the"
        " manage_vip_contacts privilege")
    # Her own (empty) list is hers to change.
    assert find(chromium, 'section.vip-block[data-delegator="eve"][data-allowed="true"] form')
    snap(chromium, shots, "0-eve")

    with as_user(api, "eve") as eve:
        refused = eve.post("/delegations/alice/vip_contacts", json={"numbers": [NEW_VIP]})
        assert refused.status_code == 403, refused.text
        assert "manage_vip_contacts" in refused.json()["detail"]
        mine = eve.get("/me").json()
    alices = next(entry for entry in mine["delegations"] if entry["delegator"] == "alice")
    assert (alices["role"], alices["manage_vip_contacts"]["allowed"]) == ("delegate", False)


def test_alice_changes_a_policy_and_invites_a_delegate_in_the_page(
    vipproxy: StartProxy, loopback: LoopbackAllocator, chromium: webdriver.Chrome, shots: Path
) -> None:
    api = loopback.endpoint()
    vipproxy({}, directory=manage_office({}, api))

    sign_in(chromium, api, "alice")
    body = appears(chromium, '#delegation-body[data-allowed="true"]')
    assert wait_until(lambda: find(chromium, "li.delegate"), 5.0)
    delegates = {item.get_attribute("data-user"): item.get_attribute("data-status")
                 for item in find(chromium, "li.delegate")}
    assert delegates == {"bob": "accepted", "eve": "accepted"}, delegates
    # No mailbox in Alice's delegation: voicemail is offered disabled, with why.
    others = Select(field(body, "Other callers"))
    assert others.first_selected_option.get_attribute("value") == "ring_delegates_only"
    disabled = [option.get_attribute("value") for option in others.options
                if not option.is_enabled()]
    assert disabled == ["voicemail"], disabled
    assert "voicemail needs a mailbox" in text_of(chromium, "#other_callers-reasons")
    snap(chromium, shots, "0-alice")

    others.select_by_value("ring_me_then_delegates")
    body.find_element(By.CSS_SELECTOR, ".policies-form button[type=submit]").click()
    assert wait_until(lambda: "Policies saved" in text_of(chromium, "#delegation-status"), 5.0)
    with as_user(api, "alice") as alice:
        assert alice.get("/delegations/alice").json()["vip_delegation"] == {
            "enabled": True, "vip_callers": "ring_me_only",
            "other_callers": "ring_me_then_delegates"}

    body = appears(chromium, '#delegation-body[data-allowed="true"]')
    invite = body.find_element(By.CSS_SELECTOR, ".invite-form")
    Select(field(invite, "User")).select_by_value("erin")
    field(invite, "manage vip contacts").click()
    invite.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert wait_until(lambda: find(chromium, 'li.delegate[data-user="erin"]'), 5.0)
    assert find(chromium, 'li.delegate[data-user="erin"]')[0].get_attribute(
        "data-status") == "pending"
    assert chromium.switch_to.active_element.get_attribute("id") == "delegation-status"
    snap(chromium, shots, "1-erin-invited")
    with as_user(api, "alice") as alice:
        assert alice.get("/delegations/alice").json()["delegates"]["erin"] == {
            "privileges": ["answer_calls", "manage_vip_contacts"], "status": "pending"}
    with as_user(api, "erin") as erin:
        assert erin.get("/invitations").json() == [{
            "delegator": "alice", "privileges": ["answer_calls", "manage_vip_contacts"],
            "status": "pending"}]


def test_removing_the_last_answering_delegate_is_refused_by_the_policy_and_said_so(
    vipproxy: StartProxy, loopback: LoopbackAllocator, chromium: webdriver.Chrome, shots: Path
) -> None:
    api = loopback.endpoint()
    sections = manage_office({}, api)
    sections["delegations"]["alice"]["delegates"] = {"bob": BOB}
    vipproxy({}, directory=sections)

    sign_in(chromium, api, "alice")
    appears(chromium, 'li.delegate[data-user="bob"] button').click()
    problems = "#delegation-body .invite-form .problems"
    assert wait_until(lambda: text_of(chromium, problems), 5.0), chromium.page_source
    assert text_of(chromium, problems).startswith(
        "delegations.alice.vip_delegation.other_callers: ring_delegates_only needs at least"
        " one delegate with status accepted and the answer_calls privilege")
    snap(chromium, shots, "0-refused")

    # On ring_me_only first, Bob may go; then the delegates' policies are offered
    # disabled, with the reason.
    Select(field(appears(chromium, "#delegation-body"), "Other callers")).select_by_value(
        "ring_me_only")
    find(chromium, ".policies-form button[type=submit]")[0].click()
    assert wait_until(lambda: "Policies saved" in text_of(chromium, "#delegation-status"), 5.0)
    appears(chromium, 'li.delegate[data-user="bob"] button').click()
    assert wait_until(lambda: "Bob removed" in text_of(chromium, "#delegation-status"), 5.0)
    others = Select(field(appears(chromium, "#delegation-body"), "Other callers"))
    assert [option.get_attribute("value") for option in others.options
            if option.is_enabled()] == ["ring_me_only"]
    assert "ring_all needs at least one delegate with status accepted" in text_of(
        chromium, "#other_callers-reasons")
    snap(chromium, shots, "1-no-delegates")


def test_a_locked_delegation_shows_every_control_disabled_with_the_reason(
    vipproxy: StartProxy, loopback: LoopbackAllocator, chromium: webdriver.Chrome, shots: Path
) -> None:
    api = loopback.endpoint()
    vipproxy({}, directory=manage_office({}, api, locked=True))
    reason = "the administrator locked alice's delegation: it is changed in the configuration file"
    cannot = f"You cannot change these: {reason}"

    sign_in(chromium, api, "alice")
    body = appears(chromium, '#delegation-body[data-allowed="false"]')
    assert wait_until(lambda: find(chromium, "li.delegate"), 5.0)
    assert body.find_element(By.CSS_SELECTOR, ".reason").text == (
        f"You cannot change your delegation: {reason}")
    controls = body.find_elements(By.CSS_SELECTOR, "button, input, select, textarea")
    assert controls and not [control.get_attribute("outerHTML") for control in controls
                             if control.is_enabled()]
    mine = appears(chromium, f'{ALICES_VIPS}[data-allowed="false"]')
    assert mine.find_element(By.CSS_SELECTOR, ".reason").text == cannot
    assert not mine.find_elements(By.CSS_SELECTOR, "form, button")
    snap(chromium, shots, "0-alice-locked")

    chromium.find_element(By.ID, "sign-out").click()
    assert wait_until(lambda: not find(chromium, "section.vip-block"), 3.0)
    sign_in(chromium, api, "bob")
    bobs = appears(chromium, f'{ALICES_VIPS}[data-allowed="false"]')
    assert bobs.find_element(By.CSS_SELECTOR, ".reason").text == cannot
    snap(chromium, shots, "1-bob-locked")
    with as_user(api, "bob") as bob:
        refused = bob.post("/delegations/alice/vip_contacts", json={"numbers": [NEW_VIP]})
    assert refused.status_code == 403 and refused.json()["detail"] == reason


def test_bob_signs_in_and_adds_a_contact_with_the_keyboard_alone(
    vipproxy: StartProxy, loopback: LoopbackAllocator, chromium: webdriver.Chrome, shots: Path
) -> None:
    api = loopback.endpoint()
    vipproxy({}, directory=manage_office({}, api))
    chromium.get(f"http://{api}/console/")
    keyboard = chromium.switch_to.active_element  # the page puts the focus on the user name
    assert keyboard.get_attribute("id") == "username"
    keyboard.send_keys("bob", Keys.TAB, password("bob"), Keys.ENTER)
    appears(chromium, f'{ALICES_VIPS}[data-allowed="true"] form')

    # Tab through the page, as a keyboard user would, to Alice's list's first field.
    first_name = field(find(chromium, ALICES_VIPS)[0], "First name")
    for _ in range(80):
        if chromium.switch_to.active_element == first_name:
            break
        chromium.switch_to.active_element.send_keys(Keys.TAB)
    assert chromium.switch_to.active_element == first_name, "Alice's form is not reachable"
    for text in ("Victor", Keys.TAB, "Vance", Keys.TAB, Keys.TAB, Keys.TAB, NEW_VIP,
                 Keys.TAB):
        chromium.switch_to.active_element.send_keys(text)
    submit = chromium.switch_to.active_element
    assert submit.text == "Add contact", submit.get_attribute("outerHTML")
    submit.send_keys(Keys.ENTER)
    assert wait_until(lambda: "Victor Vance" in text_of(chromium, ALICES_VIPS), 5.0), \
        chromium.page_source
    assert chromium.switch_to.active_element.get_attribute("id") == "vip-status"
    snap(chromium, shots, "0-added-by-keyboard")
    with as_user(api, "bob") as bob:
        contacts = bob.get("/delegations/alice").json()["vip_contacts"]
    assert contacts[-1] == {"first_name": "Victor", "last_name": "Vance", "numbers": [NEW_VIP]}
