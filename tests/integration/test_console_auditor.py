"""The fund auditor's console pages over HTTP: the refusals. Another role's staff, a forged
finding id, a missing CSRF token, a review without a reason or with a bad amount get a 403, 404
or 400 page, audited, and the finding stays open; the auditor's own review works once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hub.auth.roles import Role
from hub.console.staff import StaffRole
from tests.browser.staff import Staff, new_staff
from tests.integration import test_claims_audit
from tests.integration.console_areas import assert_not_found_pages, refused_texts
from tests.integration.console_client import browser_like, signed_in
from tests.live import LiveHub

planted = test_claims_audit.planted  # a day at H001 with planted findings (a fixture)


@pytest.fixture(scope="module")
def fund_auditor(live_hub: LiveHub) -> Staff:
    return new_staff(StaffRole.auditor, "HUB")


def _finding(planted: dict[str, Any], rule: str) -> str:
    return f"ca-{next(f for f in planted['findings'] if f.rule == rule).key}"


def _status(client_for: Callable[..., httpx.Client], finding: str) -> str:
    fund = client_for(role=Role.insurance_auditor, facility="YB420500")
    return str(fund.get(f"/DetectedIssue/{finding}").json()["status"])


@pytest.mark.parametrize("role", [StaffRole.practitioner, StaffRole.data_steward])
def test_another_roles_staff_get_403_audited(
    live_hub: LiveHub, planted: dict[str, Any], client_for: Callable[..., httpx.Client],
    role: StaffRole,
) -> None:  # fmt: skip
    finding = _finding(planted, "phantom-service")
    other = new_staff(role, "H001")  # a doctor of the audited facility included
    with browser_like(live_hub) as client:
        csrf = signed_in(client, other)
        for path in ("/console/auditor", f"/console/auditor/findings/{finding}",
                     "/console/auditor/reconciliation", "/console/auditor/charts"):  # fmt: skip
            assert client.get(path).status_code == 403, path
        posted = client.post(f"/console/auditor/findings/{finding}/review",
                             data={"csrf_token": csrf, "outcome": "dismissed",
                                   "reason": "our own claim"})  # fmt: skip
        assert posted.status_code == 403
    assert _status(client_for, finding) == "preliminary"
    refusals = refused_texts(other.username)
    assert len(refusals) >= 5 and all("/console/auditor" in text for text in refusals)


def test_a_forged_finding_id_is_a_404_page_audited(
    live_hub: LiveHub, fund_auditor: Staff, planted: dict[str, Any]
) -> None:
    forged = ("ca-000000000000", "ca-%27%20or%201=1", "x" * 65)
    assert_not_found_pages(
        live_hub, fund_auditor, [f"/console/auditor/findings/{f}" for f in forged]
    )


def test_bad_filters_are_a_400_page(live_hub: LiveHub, fund_auditor: Staff) -> None:
    with browser_like(live_hub) as client:
        signed_in(client, fund_auditor)
        for query in ("month=2026-13", "rule=nope", "state=closed", "facility=H001%27--"):
            assert client.get(f"/console/auditor?{query}").status_code == 400, query
        asked = client.get("/console/auditor/reconciliation?facility=H001&day=2026-02-30")
        assert asked.status_code == 400


def test_csrf_reason_and_amount_are_checked_before_anything_changes(
    live_hub: LiveHub, fund_auditor: Staff, planted: dict[str, Any],
    client_for: Callable[..., httpx.Client],
) -> None:  # fmt: skip
    finding = _finding(planted, "phantom-service")
    action = f"/console/auditor/findings/{finding}/review"
    form = {"outcome": "confirmed", "reason": "no visit behind it", "amount": "10.00"}
    with browser_like(live_hub) as client:
        csrf = signed_in(client, fund_auditor)
        assert client.post(action, data=form).status_code == 403
        assert client.post(action, data=form | {"csrf_token": "forged"}).status_code == 403
        assert client.post(action, data=form | {"csrf_token": csrf, "reason": ""}).status_code \
            == 400  # fmt: skip
        for amount in ("12.345", "-1", "ten"):
            sent = form | {"csrf_token": csrf, "amount": amount}
            assert client.post(action, data=sent).status_code in (400, 422), amount
        dismissed_with_money = form | {"csrf_token": csrf, "outcome": "dismissed"}
        assert client.post(action, data=dismissed_with_money).status_code == 422
        assert _status(client_for, finding) == "preliminary"
        done = client.post(action, data=form | {"csrf_token": csrf})
        assert done.status_code == 303
        assert client.post(action, data=form | {"csrf_token": csrf}).status_code == 409
    assert _status(client_for, finding) == "final"
    texts = refused_texts(fund_auditor.username)
    assert sum("CSRF" in text for text in texts) >= 2
