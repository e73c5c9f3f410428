"""Referral SLA and report against the live hub: referrals driven by two facilities' doctors
through the API, the SLA job run in-process at a chosen moment, the results read back through
the API and the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hub.auth.roles import Role
from referral.escalation import sweep
from referral.sla import NOTICE_SYSTEM, SlaAction, authored_at
from tests.integration.hub_cli import run_hub
from tests.integration.test_referral_workflow import SOURCE, TARGET, _put, _refer
from tests.live import LiveHub

ClientFactory = Callable[..., httpx.Client]
URGENT_ACCEPT = timedelta(hours=4)
URGENT_VALIDITY = timedelta(days=14)


@pytest.fixture
def doctors(client_for: ClientFactory) -> dict[str, httpx.Client]:
    return {code: client_for(role=Role.practitioner, facility=code) for code in (SOURCE, TARGET)}


def _read(client: httpx.Client, task: dict[str, Any]) -> dict[str, Any]:
    response = client.get(f"/Task/{task['id']}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _versions(client: httpx.Client, task: dict[str, Any]) -> list[dict[str, Any]]:
    history = client.get(f"/Task/{task['id']}/_history").json()
    return [entry["resource"] for entry in history["entry"]]


def _notices(api: httpx.Client, task: dict[str, Any], action: SlaAction) -> list[dict[str, Any]]:
    found = api.get(
        "/Communication", params={"identifier": f"{NOTICE_SYSTEM}|{task['id']}-{action}"}
    ).json()
    return [entry["resource"] for entry in found.get("entry", [])]


def _moment(task: dict[str, Any], after: timedelta) -> datetime:
    made = authored_at(task)
    assert made is not None
    return made + after


def test_an_unaccepted_referral_is_flagged_once_notified_and_listed(
    doctors: dict[str, httpx.Client], api: httpx.Client
) -> None:
    _, task = _refer(doctors)
    early = sweep(_moment(task, URGENT_ACCEPT - timedelta(minutes=1)), facility=TARGET)
    assert _read(doctors[TARGET], task)["meta"]["versionId"] == "1", early

    late = _moment(task, URGENT_ACCEPT + timedelta(minutes=1))
    assert sweep(late, facility=TARGET).flagged >= 1
    flagged = _read(doctors[TARGET], task)
    assert flagged["status"] == "requested"  # the owner still decides
    assert flagged["businessStatus"]["coding"][0]["code"] == "overdue"
    [notice] = _notices(api, task, SlaAction.FLAG_OVERDUE)
    assert notice["recipient"] == [{"reference": f"Organization/{TARGET}"}]
    assert notice["about"] == [{"reference": f"Task/{task['id']}"}]

    again = sweep(late + timedelta(minutes=5), facility=TARGET)  # idempotent
    assert len(_versions(doctors[TARGET], task)) == 2, again
    assert len(_notices(api, task, SlaAction.FLAG_OVERDUE)) == 1

    worklist = doctors[TARGET].get(
        "/Task",
        params={
            "business-status": "overdue",
            "owner": f"Organization/{TARGET}",
            "status": "requested,received",
            "_count": "500",
        },
    )
    assert worklist.status_code == 200, worklist.text
    assert task["id"] in {e["resource"]["id"] for e in worklist.json()["entry"]}

    listed = run_hub("referrals", "overdue", "--facility", TARGET, "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["task"]: row for row in json.loads(listed.stdout)}
    assert rows[f"Task/{task['id']}"]["owner"] == f"Organization/{TARGET}"
    assert rows[f"Task/{task['id']}"]["priority"] == "urgent"
    elsewhere = run_hub("referrals", "overdue", "--facility", SOURCE, "--format", "csv")
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert task["id"] not in elsewhere.stdout

    accepted = _put(doctors[TARGET], flagged, status="accepted")  # accepting ends the listing
    assert accepted.status_code == 200, accepted.text
    listed = run_hub("referrals", "overdue", "--facility", TARGET, "--format", "json")
    assert f"Task/{task['id']}" not in {row["task"] for row in json.loads(listed.stdout)}


def test_a_stale_referral_expires_by_the_hubs_move(
    doctors: dict[str, httpx.Client], api: httpx.Client
) -> None:
    _, task = _refer(doctors)
    accepted = _put(doctors[TARGET], task, status="accepted")
    assert accepted.status_code == 200, accepted.text
    result = sweep(_moment(task, URGENT_VALIDITY + timedelta(hours=1)), facility=TARGET)
    assert result.expired >= 1
    expired = _read(doctors[SOURCE], task)
    assert expired["status"] == "cancelled"
    assert expired["businessStatus"]["coding"][0]["code"] == "expired"
    assert expired["statusReason"]["text"]
    assert [v["status"] for v in _versions(doctors[SOURCE], task)] == [
        "cancelled",
        "accepted",
        "requested",
    ]
    [notice] = _notices(api, task, SlaAction.EXPIRE)
    assert {r["reference"] for r in notice["recipient"]} >= {f"Organization/{TARGET}"}
    assert sweep(_moment(task, URGENT_VALIDITY * 2), facility=TARGET).expired == 0


def _stats(client: httpx.Client, since: datetime) -> httpx.Response:
    return client.get("/referral/stats", params={"since": since.isoformat()})


def test_the_report_counts_referrals_driven_through_the_api(
    doctors: dict[str, httpx.Client], live_hub: LiveHub, client_for: ClientFactory
) -> None:
    since = datetime.now(UTC)
    _, closed = _refer(doctors)
    owner = doctors[TARGET]
    for status, business in (
        ("accepted", None),
        ("in-progress", "arrived"),
        ("completed", "feedback-returned"),
    ):
        changes: dict[str, Any] = {"status": status}
        if business:
            changes["businessStatus"] = {"text": business}
        moved = _put(owner, _read(owner, closed), **changes)
        assert moved.status_code == 200, moved.text
    _, open_one = _refer(doctors)
    assert _put(owner, open_one, status="accepted").status_code == 200
    _refer(doctors)  # still requested

    def base_client(role: Role, facility: str) -> httpx.Client:
        fhir = client_for(role=role, facility=facility)
        return httpx.Client(base_url=live_hub.base_url, headers=fhir.headers, timeout=60)

    refused = _stats(base_client(Role.practitioner, TARGET), since)
    assert refused.status_code == 403
    assert refused.json()["resourceType"] == "OperationOutcome"

    commission = _stats(base_client(Role.auditor, "HUB"), since)
    assert commission.status_code == 200, commission.text
    report = commission.json()
    assert report["referrals"] == 3
    assert report["counts"]["direction"] == {"up": 3}
    assert report["counts"]["tier_pair"] == {"1->3": 3}
    assert sum(report["counts"]["district"].values()) == 3
    assert report["counts"]["specialty"] and sum(report["counts"]["specialty"].values()) == 3
    assert report["loop_closure"] == {"accepted": 2, "completed_with_feedback": 1, "rate": 0.5}
    assert report["time_to_accept"]["count"] == 2
    assert report["time_to_arrival"]["count"] == 1
    assert report["time_to_accept"]["median_hours"] >= 0

    printed = run_hub("referrals", "report", "--format", "json", "--since", since.isoformat())
    assert printed.returncode == 0, printed.stderr
    rows = json.loads(printed.stdout)
    assert {"measure": "referrals", "by": "", "group": "", "value": 3} in rows
    assert {"measure": "loop_closure", "by": "", "group": "rate", "value": 0.5} in rows
