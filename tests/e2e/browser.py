"""A real browser for the console's tests: Debian's headless chromium driven by
Selenium through chromium-driver (both from apt, built together, so their versions
always match and nothing is downloaded). ``tools/test`` installs them.

Chromium is kept off the network: its background services (updates, sync, metrics,
safe browsing) are switched off, and the tests only open loopback addresses.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

# A phone's screen (CSS pixels): the console must work there, not only on a desk.
PHONE_WINDOW = (390, 844)
DESKTOP_WINDOW = (1366, 900)
_QUIET = ["--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
          "--no-default-browser-check", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--disable-default-apps",
          "--disable-domain-reliability", "--disable-client-side-phishing-detection",
          "--metrics-recording-only", "--safebrowsing-disable-auto-update"]


def start_chromium(profile: Path, window: tuple[int, int] = PHONE_WINDOW) -> webdriver.Chrome:
    """A headless chromium with a fresh profile in ``profile``; ``quit()`` stops it
    and its driver."""
    browser = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    assert browser and driver, "chromium and chromium-driver are not installed (tools/test)"
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in [*_QUIET, f"--user-data-dir={profile}",
                     f"--window-size={window[0]},{window[1]}"]:
        options.add_argument(argument)
    # The harness gives every address port 5060, and Chromium refuses the SIP ports
    # to web pages (its "unsafe ports", ERR_UNSAFE_PORT) unless told otherwise.
    options.add_argument("--explicitly-allowed-ports=5060,5061")
    # Chromium's sandbox needs user namespaces, which a root CI container lacks.
    options.add_argument("--no-sandbox")
    return webdriver.Chrome(options=options,
                            service=Service(executable_path=driver, log_output=str(
                                profile.with_name(profile.name + "-driver.log"))))
