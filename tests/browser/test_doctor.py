"""The doctor's pages in Chromium: H001's doctor accepts and rejects referrals from the township
centre (TC001) by clicking, TC001's doctor redirects the rejected one, and a doctor of a third
facility (H002) cannot open them by URL. Each step is checked through the API as well."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from hub.console.staff import StaffRole
from tests.browser.staff import Staff
from tests.integration.console_client import new_referral
from tests.integration.referral_parties import SOURCE, TARGET, THIRD, ClientFactory, doctors

Shoot = Callable[[Page, str], Path]
SignIn = Callable[..., None]


def _task(client: httpx.Client, task_id: str) -> dict[str, Any]:
    response = client.get(f"/Task/{task_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_doctor_accepts_rejects_and_the_requester_redirects(
    page: Page,
    client_for: ClientFactory,
    make_staff: Callable[..., Staff],
    sign_in: SignIn,
    screenshot: Shoot,
) -> None:
    parties = doctors(client_for)
    to_accept, to_reject = new_referral(parties[SOURCE]), new_referral(parties[SOURCE])
    doctor = make_staff(StaffRole.practitioner, TARGET, "张医生")

    sign_in(page, doctor)
    expect(page).to_have_url(re.compile(r"/console/doctor/referrals$"))
    row = page.locator(f"tr[data-task='{to_accept['id']}']")
    expect(row).to_contain_text("胸痛")
    screenshot(page, "doctor-worklist")
    row.get_by_role("button", name="接收").click()
    expect(page.get_by_role("status")).to_have_text("已接收转诊。")
    expect(page.locator("ol.timeline li")).to_have_count(2)  # requested, then accepted
    screenshot(page, "doctor-referral")
    assert _task(parties[TARGET], to_accept["id"])["status"] == "accepted"

    page.goto(f"/console/doctor/referrals/{to_reject['id']}")
    page.fill("input[name=reason]", "本院心内科床位已满")
    page.get_by_role("button", name="拒绝").click()
    expect(page.get_by_role("status")).to_have_text("已拒绝转诊。")
    rejected = _task(parties[TARGET], to_reject["id"])
    assert (rejected["status"], rejected["statusReason"]["text"]) == (
        "rejected",
        "本院心内科床位已满",
    )

    # the township doctor sees it rejected in the outgoing tab and sends it to H002
    page.context.clear_cookies()
    sign_in(page, make_staff(StaffRole.practitioner, SOURCE, "乡镇医生"))
    page.goto("/console/doctor/referrals?tab=outgoing")
    page.locator(f"tr[data-task='{to_reject['id']}']").get_by_role("link").click()
    expect(page.locator(".status-reason")).to_have_text("本院心内科床位已满")
    page.fill("input[name=facility]", THIRD)
    page.get_by_role("button", name="改转其他机构").click()
    expect(page.get_by_role("status")).to_have_text("已改转。")
    redirected = _task(parties[SOURCE], to_reject["id"])
    assert redirected["status"] == "requested"
    assert redirected["owner"]["reference"] == f"Organization/{THIRD}"


def test_another_facility_cannot_open_a_referral_by_url(
    page: Page,
    client_for: ClientFactory,
    make_staff: Callable[..., Staff],
    sign_in: SignIn,
    screenshot: Shoot,
) -> None:
    parties = doctors(client_for)
    task = new_referral(parties[SOURCE])
    sign_in(page, make_staff(StaffRole.practitioner, THIRD))
    expect(page.locator(f"tr[data-task='{task['id']}']")).to_have_count(0)
    response = page.goto(f"/console/doctor/referrals/{task['id']}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_have_text("未找到，或您无权查看。")
    screenshot(page, "doctor-other-facility-refused")
    # a POST by URL with the page's own CSRF token changes nothing either
    assert _task(parties[TARGET], task["id"])["status"] == "requested"


def test_a_referral_desk_cannot_open_the_doctors_pages(
    page: Page, make_staff: Callable[..., Staff], sign_in: SignIn
) -> None:
    sign_in(page, make_staff(StaffRole.referral_desk, TARGET))
    response = page.goto("/console/doctor/referrals")
    assert response is not None and response.status == 403
    expect(page.get_by_role("alert")).to_have_text("您无权访问此页面。")
