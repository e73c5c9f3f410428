"""OpenID Connect sign-in in Chromium: the region's identity provider (a small one run by the
test) sends the doctor back, and the browser lands on the worklist with its session cookie
(SameSite=Strict, set on the page that follows the provider's cross-site redirect)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import TIMEOUT_MS
from tests.integration.oidc_provider import Provider
from tests.live import LiveHub


def test_a_doctor_signs_in_through_the_identity_provider(
    browser: Browser,
    oidc_hub: LiveHub,
    oidc_provider: Provider,
    screenshot: Callable[[Page, str], Path],
) -> None:
    oidc_provider.claims = {"sub": "doctor-b", "name": "吴医生", "facility": "H001",
                       "hub_role": "practitioner"}  # fmt: skip
    context = browser.new_context(base_url=oidc_hub.base_url, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto("/console/login")
        screenshot(page, "sign-in")
        page.get_by_role("link", name="使用本地区统一身份认证登录").click()
        expect(page).to_have_url(re.compile(r"/console/doctor/referrals$"))
        expect(page.locator(".staff-name")).to_have_text("吴医生")
        cookie = next(c for c in context.cookies() if c["name"] == "hub_console")
        assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict")
    finally:
        context.close()
