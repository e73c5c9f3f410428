"""The consultation pages and the patient summary over HTTP: who may post on a thread and
issue the report, empty or forged input, a patient another facility may not see. Each refusal
changes nothing and is audited."""

from __future__ import annotations

import httpx
import pytest

from hub.console.staff import StaffRole
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
CONSULTATIONS = "/console/doctor/consultations"


@pytest.fixture
def parties(client_for: ClientFactory) -> dict[str, httpx.Client]:
    return doctors(client_for)


def _thread(client: httpx.Client, task_id: str) -> int:
    found = client.get("/Communication", params={"part-of": f"Task/{task_id}"}).json()
    return len(found.get("entry", []))


def test_the_requester_asks_and_sees_the_thread_but_cannot_issue_the_report(
    live_hub: LiveHub, parties: dict[str, httpx.Client]
) -> None:
    task = new_referral(parties[SOURCE], consultation=True)
    parties[TARGET].put(
        f"/Task/{task['id']}", json={**task, "status": "accepted"}, headers={"If-Match": 'W/"1"'}
    ).raise_for_status()
    asker = new_staff(StaffRole.practitioner, SOURCE)
    with browser_like(live_hub) as client:
        token = signed_in(client, asker)
        assert task["id"] in client.get(f"{CONSULTATIONS}?tab=outgoing").text
        sent = client.post(
            f"{CONSULTATIONS}/{task['id']}/message",
            data={"csrf_token": token, "text": "心电图已上传"},
        )
        assert sent.status_code == 303
        assert "心电图已上传" in client.get(f"{CONSULTATIONS}/{task['id']}").text
        refused = client.post(
            f"{CONSULTATIONS}/{task['id']}/report",
            data={"csrf_token": token, "conclusion": "自己写的报告"},
        )
        assert refused.status_code == 403
        empty = client.post(
            f"{CONSULTATIONS}/{task['id']}/message", data={"csrf_token": token, "text": "   "}
        )
        assert empty.status_code == 400
    assert parties[SOURCE].get(f"/Task/{task['id']}").json()["status"] == "accepted"
    assert _thread(parties[SOURCE], task["id"]) == 1


def test_a_third_facility_cannot_read_or_write_a_consultation(
    live_hub: LiveHub, parties: dict[str, httpx.Client]
) -> None:
    task = new_referral(parties[SOURCE], consultation=True)
    outsider = new_staff(StaffRole.practitioner, THIRD)
    with browser_like(live_hub) as client:
        token = signed_in(client, outsider)
        assert client.get(f"{CONSULTATIONS}/{task['id']}").status_code == 404
        for action, field in (("message", "text"), ("report", "conclusion")):
            posted = client.post(
                f"{CONSULTATIONS}/{task['id']}/{action}", data={"csrf_token": token, field: "x"}
            )
            assert posted.status_code == 404
    assert _thread(parties[SOURCE], task["id"]) == 0
    # the page view and the two POSTs: each refused and audited (a POST as "create")
    assert [o for i, o, _ in console_audit(outsider.username) if i == "read"] == ["4"]
    posts = [(i, o) for i, o, _ in console_audit(outsider.username) if i == "create"]
    assert posts == [("create", "4"), ("create", "4")]


def test_a_referral_is_not_a_consultation_page(
    live_hub: LiveHub, parties: dict[str, httpx.Client]
) -> None:
    task = new_referral(parties[SOURCE])
    doctor = new_staff(StaffRole.practitioner, TARGET)
    with browser_like(live_hub) as client:
        token = signed_in(client, doctor)
        assert client.get(f"{CONSULTATIONS}/{task['id']}").status_code == 404
        posted = client.post(
            f"{CONSULTATIONS}/{task['id']}/message", data={"csrf_token": token, "text": "x"}
        )
        assert posted.status_code == 404
        assert client.post(
            f"/console/doctor/elsewhere/{task['id']}/accept",
            data={"csrf_token": token, "version": "1"},
        ).status_code in (400, 404, 405)
    assert parties[TARGET].get(f"/Task/{task['id']}").json()["status"] == "requested"


def test_a_patient_withheld_from_a_facility_is_not_summarised(
    live_hub: LiveHub, parties: dict[str, httpx.Client]
) -> None:
    task = new_referral(parties[SOURCE], opted_out=True)
    patient = task["for"]["reference"].removeprefix("Patient/")
    outsider = new_staff(StaffRole.practitioner, THIRD)
    with browser_like(live_hub) as client:
        signed_in(client, outsider)
        page = client.get(f"/console/doctor/patients/{patient}")
        assert page.status_code == 404 and "未找到，或您无权查看" in page.text
        assert client.get("/console/doctor/patients/no-such-patient").status_code == 404
