"""The console in a real browser: Debian's Chromium (/usr/bin/chromium) driven by Playwright
against the run's live hub. Fixtures for every area's tests (tests/browser/test_<area>.py):

- ``browser``: one Chromium for the session. Without it the tests skip and say why, except on
  CI (``CI`` set), where they fail: CI installs it (.ci/run).
- ``page``: a fresh browser context (no cookies) per test, zh-CN, the hub as base URL.
- ``make_staff(role, facility)``: a staff account (``tests.browser.staff.Staff``), TOTP secret
  included for auditors and operators.
- ``sign_in(page, staff)``: through the sign-in form, with the TOTP code when the role needs one.
- ``screenshot(page, name)``: a full-page PNG under $HUB_SCREENSHOT_DIR (default
  var/screenshots/ of the checkout), for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from hub.console.staff import StaffRole
from tests.browser.staff import Staff, new_staff
from tests.live import LiveHub

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT_DIR = Path(
    os.environ.get("HUB_SCREENSHOT_DIR")
    or Path(__file__).resolve().parents[2] / "var" / "screenshots"
)
TIMEOUT_MS = 10_000


# The package's scope, not the session's: Playwright's sync API runs an event loop in this thread
# while it is started, and every later test calling asyncio.run() (the MLLP and HL7 tests) would
# fail beside it; it stops once the last browser test has run.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):  # CI installs it: its absence is a broken job
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, live_hub: LiveHub) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_hub.base_url, locale="zh-CN", viewport={"width": 1280, "height": 860}
    )
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture(scope="session")
def make_staff(live_hub: LiveHub) -> Callable[..., Staff]:
    def make(role: StaffRole, facility: str = "H001", name: str = "") -> Staff:
        return new_staff(role, facility, name)

    return make


def sign_in_with(page: Page, staff: Staff, *, password: str | None = None) -> None:
    page.goto("/console/login")
    page.fill("input[name=username]", staff.username)
    page.fill("input[name=password]", staff.password if password is None else password)
    if staff.totp_secret:
        page.fill("input[name=code]", staff.code())
    page.click("form.stack button[type=submit]")
    page.wait_for_load_state()


@pytest.fixture
def sign_in() -> Callable[..., None]:
    return sign_in_with


@pytest.fixture(scope="session")
def screenshot() -> Callable[[Page, str], Path]:
    def shoot(page: Page, name: str) -> Path:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot
