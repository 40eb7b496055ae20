"""A headless Chromium driven by selenium, for the browser tests and the docs' screenshots.

Uses the system's Chromium and chromedriver (Debian: apt-get install chromium chromium-driver);
`chromium_or_skip()` skips a test where either is missing, so the suite runs on machines without a
browser.
"""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
# No network beyond the local test servers: no updates, sync or first-run fetches.
ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
        "--allow-file-access-from-files", "--window-size=1400,1000", "--hide-scrollbars")


def find_browser() -> tuple[str, str] | None:
    """(chromium binary, chromedriver binary), or None when either is missing."""
    binary = next((p for p in map(shutil.which, CHROMIUM) if p), None)
    driver = shutil.which("chromedriver")
    return (binary, driver) if binary and driver else None


def chromium(window: tuple[int, int] = (1400, 1000)):
    """A headless Chromium WebDriver (caller quits it)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = find_browser()
    if found is None:
        raise RuntimeError("no chromium + chromedriver on PATH (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for arg in ARGS:
        options.add_argument(arg)
    options.add_argument(f"--window-size={window[0]},{window[1]}")
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


def chromium_or_skip():
    pytest.importorskip("selenium")
    if find_browser() is None:
        pytest.skip("no chromium + chromedriver on PATH (apt-get install chromium chromium-driver)")
    return chromium()


def wait_for(driver, script: str, timeout: float = 15.0):
    """Poll a JavaScript expression until it is truthy; return its value (fails the test on timeout)."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: d.execute_script("return " + script),
                                                                    message=f"timed out waiting for: {script}")
