"""The operator's pages over HTTP: what it may not do is refused, audited and changes nothing:
a replay without the CSRF token, of a forged message id, of a message that is not dead; a
review of what is no break-glass access; another role opening the operator's pages."""

from __future__ import annotations

import pytest

from adapters.hl7v2.models import MessageStatus
from hub.console.staff import StaffRole
from tests.browser.staff import Staff, new_staff
from tests.integration.console_client import browser_like, csrf_of, signed_in
from tests.integration.console_refusals import refusals
from tests.integration.operator_parties import dead_letter, status_of, wait_processed
from tests.live import LiveHub

pytestmark = pytest.mark.integration


@pytest.fixture
def operator(live_hub: LiveHub) -> Staff:
    return new_staff(StaffRole.operator, "HUB")


def test_a_replay_without_csrf_of_a_forged_id_or_of_a_live_message_changes_nothing(
    live_hub: LiveHub, operator: Staff
) -> None:
    row_id = dead_letter()
    with browser_like(live_hub) as client:
        signed_in(client, operator)
        page = client.get(f"/console/operator/messages/{row_id}")
        assert page.status_code == 200
        token, before = csrf_of(page), refusals(operator)
        reason = {"reason": "fixed"}
        missing = client.post(f"/console/operator/messages/{row_id}/replay", data=reason)
        assert missing.status_code == 403
        for forged in ("999999999", "abc", "0"):
            answer = client.post(
                f"/console/operator/messages/{forged}/replay", data=reason | {"csrf_token": token}
            )
            assert answer.status_code == 404
        assert status_of(row_id) == MessageStatus.DEAD.value
        assert refusals(operator) == before + 4
        done = client.post(
            f"/console/operator/messages/{row_id}/replay", data=reason | {"csrf_token": token}
        )
        assert done.status_code == 303
        assert wait_processed(row_id) == MessageStatus.PROCESSED.value
        again = client.post(
            f"/console/operator/messages/{row_id}/replay", data=reason | {"csrf_token": token}
        )
        assert again.status_code == 400 and "only dead letters replay" in again.text


def test_a_review_of_what_is_no_break_glass_access_is_refused(
    live_hub: LiveHub, operator: Staff
) -> None:
    with browser_like(live_hub) as client:
        signed_in(client, operator)
        token = csrf_of(client.get("/console/operator/break-glass"))
        answer = client.post(
            "/console/operator/break-glass/1/review", data={"note": "x", "csrf_token": token}
        )
        assert answer.status_code == 404


@pytest.mark.parametrize("role", [StaffRole.practitioner, StaffRole.referral_desk,
                                  StaffRole.auditor, StaffRole.data_steward])  # fmt: skip
def test_other_roles_cannot_open_the_operators_pages(live_hub: LiveHub, role: StaffRole) -> None:
    staff = new_staff(role, "H001")
    paths = [f"/console/operator{tail}" for tail in
             ("", "/messages", "/break-glass", "/audit", "/keys", "/charts")]  # fmt: skip
    with browser_like(live_hub) as client:
        signed_in(client, staff)
        before = refusals(staff)
        for path in paths:
            assert client.get(path).status_code == 403, path
        assert refusals(staff) == before + len(paths)
