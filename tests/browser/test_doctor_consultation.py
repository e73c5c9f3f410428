"""The consultation inbox and the patient summary in Chromium: H001's cardiologist accepts a
township centre's consultation, answers on its thread and issues the report, which completes
the Task; the summary of a patient who opted out shows what consent withholds as withheld,
until the referral's acceptance grants the record (sensitive classes excepted)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from hub.console.staff import StaffRole
from tests.browser.staff import Staff
from tests.integration.console_client import new_referral
from tests.integration.referral_parties import SOURCE, TARGET, ClientFactory, doctors

Shoot = Callable[[Page, str], Path]


def test_a_consultant_accepts_answers_and_reports(
    page: Page,
    client_for: ClientFactory,
    make_staff: Callable[..., Staff],
    sign_in: Callable[..., None],
    screenshot: Shoot,
) -> None:
    parties = doctors(client_for)
    task = new_referral(parties[SOURCE], consultation=True)
    sign_in(page, make_staff(StaffRole.practitioner, TARGET, "心内科专家"))
    page.get_by_role("link", name="会诊").click()
    row = page.locator(f"tr[data-task='{task['id']}']")
    row.get_by_role("button", name="接收").click()
    expect(page).to_have_url(re.compile(rf"/console/doctor/consultations/{task['id']}\?done="))
    page.fill("textarea[name=text]", "请补充心电图。")
    page.get_by_role("button", name="发送").click()
    expect(page.locator(".thread .message.mine .text")).to_have_text("请补充心电图。")
    page.fill("textarea[name=conclusion]", "考虑稳定型心绞痛，建议冠脉CTA。")
    page.get_by_role("button", name="出具报告").click()
    expect(page.get_by_role("status")).to_have_text("报告已出具，会诊完成。")
    expect(page.locator(".report-conclusion")).to_have_text("考虑稳定型心绞痛，建议冠脉CTA。")
    screenshot(page, "doctor-consultation")
    done = parties[SOURCE].get(f"/Task/{task['id']}").json()
    assert done["status"] == "completed"
    assert done["output"][0]["valueReference"]["reference"].startswith("DiagnosticReport/")


def test_the_patient_summary_shows_what_consent_withholds(
    page: Page,
    client_for: ClientFactory,
    make_staff: Callable[..., Staff],
    sign_in: Callable[..., None],
    screenshot: Shoot,
) -> None:
    parties = doctors(client_for)
    task = new_referral(parties[SOURCE], opted_out=True)
    patient = task["for"]["reference"].removeprefix("Patient/")
    sign_in(page, make_staff(StaffRole.practitioner, TARGET))
    page.goto(f"/console/doctor/patients/{patient}")
    observations = page.locator("section[data-type=Observation]")
    expect(observations.locator(".withheld")).to_be_visible()  # before acceptance: withheld
    expect(observations.locator("tr")).to_have_count(0)
    page.goto(f"/console/doctor/referrals/{task['id']}")
    page.get_by_role("button", name="接收").click()
    page.goto(f"/console/doctor/patients/{patient}")
    expect(observations.locator("tr")).to_have_count(2)  # the grant of the acceptance
    expect(observations.locator(".withheld")).to_have_count(0)
    # the HIV diagnosis stays withheld, and unannounced: the regional policy does not tell that
    # a sensitive record exists (consent.search_filter), so neither does the page
    conditions = page.locator("section[data-type=Condition]")
    expect(conditions.locator("tr")).to_have_count(0)
    expect(conditions).not_to_contain_text("B20")
    screenshot(page, "doctor-patient-summary")
