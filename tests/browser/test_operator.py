"""The operator in Chromium: signs in with the authenticator code, sees the facilities'
connections, opens a dead letter from the message log and replays it by clicking (the hub
processes it again), reviews a break-glass access, verifies the audit chain, and looks at the
keys and the charts. The refusals over plain HTTP: tests/integration/test_console_operator.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from adapters.hl7v2.models import MessageStatus
from hub.audit.models import AuditReview
from hub.console.staff import StaffRole
from hub.db import session_scope
from tests.browser.staff import Staff
from tests.integration.operator_parties import (
    a_finding,
    break_glass_access,
    dead_letter,
    wait_processed,
)

Shoot = Callable[[Page, str], Path]
SignIn = Callable[..., None]


def test_the_operator_replays_a_dead_letter_and_reviews_a_break_glass_access(
    page: Page, make_staff: Callable[..., Staff], sign_in: SignIn, screenshot: Shoot
) -> None:
    row_id, seq = dead_letter(), break_glass_access()
    operator = make_staff(StaffRole.operator, "HUB", "运维值班")
    sign_in(page, operator)  # with the authenticator's code
    expect(page).to_have_url(re.compile(r"/console/operator$"))
    expect(page.locator("tr[data-facility='H001']")).to_contain_text("宜昌市中心人民医院")
    screenshot(page, "operator-connections")

    page.get_by_role("link", name="死信").first.click()
    expect(page.locator(f"tr[data-message='{row_id}']")).to_contain_text("dead")
    screenshot(page, "operator-dead-letters")
    page.locator(f"tr[data-message='{row_id}']").get_by_role("link", name=str(row_id)).click()
    expect(page.locator("pre.hl7").last).to_contain_text("PID|1||MRN-")
    screenshot(page, "operator-message")
    page.fill("input[name=reason]", "映射已修复 mapping fixed")
    page.get_by_role("button", name="重放").click()
    expect(page.get_by_role("status")).to_have_text("已重放，消息重新进入处理队列。")
    assert wait_processed(row_id) == MessageStatus.PROCESSED.value

    page.goto("/console/operator/break-glass")
    row = page.locator(f"tr[data-seq='{seq}']")
    expect(row).to_contain_text("Practitioner/ed-1")
    screenshot(page, "operator-break-glass")
    row.locator("input[name=note]").fill("已核实：急诊抢救")
    row.get_by_role("button", name="标记已审").click()
    expect(page.get_by_role("status")).to_have_text("已标记为已审。")
    expect(page.locator(f"tr[data-seq='{seq}']")).to_have_count(0)
    with session_scope() as session:
        review = session.get(AuditReview, seq)
        assert review is not None and review.reviewer == f"console:{operator.username}"

    page.goto("/console/operator/audit")
    page.get_by_role("button", name="立即校验全链").click()
    expect(page.locator(".verify-result")).to_be_visible()
    screenshot(page, "operator-audit")
    page.goto("/console/operator/keys")
    expect(page.locator("table.keys")).to_contain_text("k1")
    screenshot(page, "operator-keys")
    a_finding()
    page.goto("/console/operator/charts")
    expect(page.locator("img[data-chart]")).to_have_count(3)
    expect(page.locator("img[data-chart='findings']")).to_be_visible()
    screenshot(page, "operator-charts")
