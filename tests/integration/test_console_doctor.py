"""The doctor's pages over HTTP: refusals change nothing and are audited. A missing or wrong
CSRF token, another role, another facility, a forged or unknown id, a stale version."""

from __future__ import annotations

import httpx
import pytest

from hub.console.staff import StaffRole
from referral.sla import flagged_overdue
from tests.browser.staff import new_staff
from tests.integration.console_client import (
    browser_like,
    console_audit,
    new_referral,
    signed_in,
)
from tests.integration.referral_parties import SOURCE, TARGET, THIRD, ClientFactory, doctors
from tests.live import LiveHub

pytestmark = pytest.mark.integration
REFERRALS = "/console/doctor/referrals"


def _status(client: httpx.Client, task_id: str) -> tuple[str, str]:
    task = client.get(f"/Task/{task_id}").json()
    return task["status"], task["meta"]["versionId"]


@pytest.fixture
def parties(client_for: ClientFactory) -> dict[str, httpx.Client]:
    return doctors(client_for)


def test_an_accept_without_the_csrf_token_changes_nothing(
    live_hub: LiveHub, parties: dict[str, httpx.Client]
) -> None:
    task = new_referral(parties[SOURCE])
    doctor = new_staff(StaffRole.practitioner, TARGET)
    with browser_like(live_hub) as client:
        token = signed_in(client, doctor)
        for form in ({"version": "1"}, {"version": "1", "csrf_token": token[::-1]}):
            refused = client.post(f"{REFERRALS}/{task['id']}/accept", data=form)
            assert refused.status_code == 403 and "CSRF" in refused.text
    assert _status(parties[TARGET], task["id"]) == ("requested", "1")
    refusals = [r for r in console_audit(doctor.username) if r[0] == "console-refused"]
    assert len(refusals) == 2 and all("CSRF" in text for _, _, text in refusals)


def test_the_doctors_pages_refuse_another_role(live_hub: LiveHub) -> None:
    desk = new_staff(StaffRole.referral_desk, TARGET)
    with browser_like(live_hub) as client:
        token = signed_in(client, desk)
        assert client.get(REFERRALS).status_code == 403
        posted = client.post(f"{REFERRALS}/x/accept", data={"csrf_token": token, "version": "1"})
        assert posted.status_code == 403
    refusals = [t for i, _, t in console_audit(desk.username) if i == "console-refused"]
    assert refusals == [f"403: role referral-desk may not open {REFERRALS}",
                        f"403: role referral-desk may not open {REFERRALS}/x/accept"]  # fmt: skip


def test_another_facility_neither_sees_nor_moves_anew_referral(
    live_hub: LiveHub, parties: dict[str, httpx.Client]
) -> None:
    task = new_referral(parties[SOURCE])
    outsider = new_staff(StaffRole.practitioner, THIRD)
    with browser_like(live_hub) as client:
        token = signed_in(client, outsider)
        assert task["id"] not in client.get(REFERRALS).text
        assert client.get(f"{REFERRALS}/{task['id']}").status_code == 404
        for move, extra in (("accept", {}), ("reject", {"reason": "x"})):
            form = {"csrf_token": token, "version": "1", **extra}
            refused = client.post(f"{REFERRALS}/{task['id']}/{move}", data=form)
            assert refused.status_code == 403, refused.text[:300]
        redirect = {"csrf_token": token, "version": "1", "facility": THIRD}
        assert client.post(f"{REFERRALS}/{task['id']}/redirect", data=redirect).status_code in (
            403, 409,
        )  # fmt: skip
    assert _status(parties[TARGET], task["id"]) == ("requested", "1")
    # the page view was refused and audited as such: no read of it succeeded
    assert [o for i, o, _ in console_audit(outsider.username) if i == "read"] == ["4"]


def test_forged_ids_and_versions_are_refused_with_a_message(
    live_hub: LiveHub, parties: dict[str, httpx.Client]
) -> None:
    task = new_referral(parties[SOURCE])
    doctor = new_staff(StaffRole.practitioner, TARGET)
    with browser_like(live_hub) as client:
        token = signed_in(client, doctor)
        assert client.get(f"{REFERRALS}/not a valid id!").status_code == 404
        assert client.get(f"{REFERRALS}/no-such-task-0001").status_code == 404
        for version in ("", "abc", "-1", "0"):
            form = {"csrf_token": token, "version": version}
            assert client.post(f"{REFERRALS}/{task['id']}/accept", data=form).status_code == 400
        stale = client.post(
            f"{REFERRALS}/{task['id']}/accept", data={"csrf_token": token, "version": "7"}
        )
        assert stale.status_code in (409, 412) and "未做任何更改" in stale.text
        no_reason = {"csrf_token": token, "version": "1", "reason": "  "}
        assert client.post(f"{REFERRALS}/{task['id']}/reject", data=no_reason).status_code == 400
    assert _status(parties[TARGET], task["id"]) == ("requested", "1")


def test_the_receiving_facility_reads_the_referral_of_a_patient_who_opted_out(
    live_hub: LiveHub, parties: dict[str, httpx.Client]
) -> None:
    task = new_referral(parties[SOURCE], opted_out=True)
    doctor = new_staff(StaffRole.practitioner, TARGET)
    with browser_like(live_hub) as client:
        signed_in(client, doctor)
        page = client.get(f"{REFERRALS}/{task['id']}")
    assert page.status_code == 200
    assert "胸痛" in page.text  # the request itself is the receiving facility's to read


def test_the_overdue_tab_lists_the_referrals_the_sla_job_flagged(
    live_hub: LiveHub, parties: dict[str, httpx.Client]
) -> None:
    flagged, waiting = new_referral(parties[SOURCE]), new_referral(parties[SOURCE])
    moved = parties[TARGET].put(
        f"/Task/{flagged['id']}", json=flagged_overdue(flagged), headers={"If-Match": 'W/"1"'}
    )
    assert moved.status_code == 200, moved.text
    doctor = new_staff(StaffRole.practitioner, TARGET)
    with browser_like(live_hub) as client:
        signed_in(client, doctor)
        overdue = client.get(f"{REFERRALS}?tab=overdue").text
        incoming = client.get(f"{REFERRALS}?tab=incoming").text
        outgoing = client.get(f"{REFERRALS}?tab=outgoing").text
    assert flagged["id"] in overdue and waiting["id"] not in overdue
    assert flagged["id"] in incoming and waiting["id"] in incoming
    assert flagged["id"] not in outgoing  # H001 made neither
