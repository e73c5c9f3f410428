"""The fund auditor's pages in Chromium: an auditor signs in with a TOTP code, reads findings by
rule and facility, opens a finding's evidence (claim and encounter side by side), confirms it
with the amount to recover by clicking, runs a day's reconciliation again and looks at the
monthly charts; the review is checked through the FHIR API as well."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from hub.auth.roles import Role
from hub.console.staff import StaffRole
from insurance.national.envelope import REGION_TZ
from tests.browser.staff import Staff
from tests.integration import test_claims_audit

planted = test_claims_audit.planted  # a day at H001 with planted findings (a fixture)
Shoot = Callable[[Page, str], Path]
DETAILS = "setl_id,medfee_sumamt,fund_pay_sumamt,acct_pay,refd_setl_flag\n"


def test_an_auditor_confirms_a_finding_with_an_amount(
    page: Page,
    planted: dict[str, Any],
    client_for: Callable[..., httpx.Client],
    make_staff: Callable[..., Staff],
    sign_in: Callable[..., None],
    screenshot: Shoot,
) -> None:
    duplicate = next(f for f in planted["findings"] if f.rule == "duplicate-charge")
    finding = f"ca-{duplicate.key}"
    auditor = make_staff(StaffRole.auditor, "HUB", "李稽核")
    assert auditor.totp_secret  # auditors sign in with a second factor

    sign_in(page, auditor)
    expect(page).to_have_url(re.compile(r"/console/auditor$"))
    expect(page.locator("#by-rule tr[data-key=duplicate-charge]")).to_be_visible()
    expect(page.locator("#by-facility tr[data-key=H001]")).to_be_visible()
    screenshot(page, "auditor-summary")

    page.goto("/console/auditor/findings?facility=H001&rule=duplicate-charge&state=open")
    expect(page.locator(f"tr[data-finding='{finding}']")).to_be_visible()
    screenshot(page, "auditor-findings")
    page.locator(f"tr[data-finding='{finding}'] a").click()
    expect(page.locator("section[data-type=Claim]")).to_contain_text("002701000000100")
    expect(page.locator("section[data-type=Encounter]")).to_contain_text(planted["visit"])
    screenshot(page, "auditor-finding")

    page.fill("#review input[name=amount]", "20.00")
    page.fill("#review textarea[name=reason]", "同一次就诊重复收取血常规费用")
    page.click("#review button[value=confirmed]")
    expect(page.get_by_role("status")).to_have_text("审核已记录。")
    expect(page.locator("#state")).to_have_text("已确认")
    fund = client_for(role=Role.insurance_auditor, facility="YB420500", client_id="api-check")
    stored = fund.get(f"/DetectedIssue/{finding}").json()
    assert stored["status"] == "final"
    review = next(e for e in stored["extension"] if e["url"].endswith("claims-audit-review"))
    parts = {p["url"]: p for p in review["extension"]}
    assert parts["recover"]["valueMoney"]["value"] == 20.0
    assert parts["reviewer"]["valueString"] == f"console:{auditor.username}"

    today = datetime.now(REGION_TZ).date().isoformat()
    his = client_for(role=Role.facility_system, facility="H001", purpose="HPAYMT")
    uploaded = his.post(
        "/PaymentReconciliation/$upload",
        params={"facility": "H001", "date": today},
        content=DETAILS,
        headers={"Content-Type": "text/csv"},
    )
    assert uploaded.status_code == 200, uploaded.text  # fmt: skip
    page.goto(f"/console/auditor/reconciliation?facility=H001&day={today}")
    page.click("#rerun button")
    expect(page.get_by_role("status")).to_have_text("已重新对账。")
    expect(page.locator("#differences")).to_contain_text(planted["honest"])
    screenshot(page, "auditor-reconciliation")

    page.goto("/console/auditor/charts?month=2026-03&facility=H001")
    expect(page.locator("figure[data-chart] img")).to_have_count(10)
    screenshot(page, "auditor-charts")
