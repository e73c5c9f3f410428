"""The referral desk in Chromium: the desk of a facility views its slots with the fill-rate
chart, the day's bookings, marks a no-show by clicking (the place is given back), and finds it
under no-shows. The refusals over plain HTTP: tests/integration/test_console_desk.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from hub.console.staff import StaffRole
from tests.browser.staff import Staff
from tests.integration.desk_parties import appointment_status, begun, book

Shoot = Callable[[Page, str], Path]
SignIn = Callable[..., None]


def test_the_desk_views_the_days_bookings_and_marks_a_noshow(
    page: Page, make_staff: Callable[..., Staff], sign_in: SignIn, screenshot: Shoot
) -> None:
    booked = begun(book())  # the patient's session began five minutes ago
    sign_in(page, make_staff(StaffRole.referral_desk, booked.owner, "门诊服务台"))
    expect(page).to_have_url(re.compile(r"/console/desk$"))
    page.goto(f"/console/desk?day={booked.day.isoformat()}")
    slot = page.locator(f"tr[data-slot='{booked.slot}']")
    expect(slot).to_contain_text("心内科")
    expect(slot.locator("td").nth(4)).to_have_text("1")  # one place taken of two
    expect(page.locator("img.chart")).to_be_visible()
    screenshot(page, "desk-slots")

    page.get_by_role("link", name="当日预约").click()
    row = page.locator(f"tr[data-appointment='{booked.appointment['id']}']")
    expect(row).to_contain_text(booked.patient_name)
    screenshot(page, "desk-bookings")
    row.get_by_role("button", name="爽约").click()
    expect(page.get_by_role("status")).to_have_text("已登记爽约，号源已释放。")
    expect(row).to_contain_text("爽约")
    assert appointment_status(booked.appointment["id"]) == "noshow"

    page.locator("nav.tabs").get_by_role("link", name="爽约").click()
    expect(page.locator(f"tr[data-appointment='{booked.appointment['id']}']")).to_be_visible()
    screenshot(page, "desk-noshows")
    page.locator("nav.tabs").get_by_role("link", name="号源").click()
    expect(page.locator(f"tr[data-slot='{booked.slot}'] td").nth(4)).to_have_text("0")
