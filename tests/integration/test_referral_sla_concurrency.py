"""Two SLA workers sweep the same overdue referrals at the same moment, on PostgreSQL: every
Task is flagged once and its desk gets one notice (If-Match under the row lock, not
read-then-write)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx

from referral.escalation import SweepResult, sweep
from referral.sla import NOTICE_SYSTEM, SlaAction, authored_at
from tests.integration.test_referral_concurrency import _seed_facilities, hub_clients
from tests.integration.test_referral_workflow import SOURCE, TARGET, _new_patient, _referral

__all__ = ["hub_clients"]  # the fixture, imported for pytest
REFERRALS = 12
WORKERS = 2


def test_two_workers_flag_each_overdue_referral_once(
    hub_clients: dict[str, httpx.Client], hub_on_postgres: str
) -> None:
    operator, source = hub_clients["operator"], hub_clients[SOURCE]
    _seed_facilities(operator)
    patient = _new_patient(source, SOURCE)
    tasks = []
    for _ in range(REFERRALS):
        created = source.post(
            "/ServiceRequest", json=_referral(patient, f"HealthcareService/{TARGET}-cardiology")
        )
        assert created.status_code == 201, created.text
        found = source.get("/Task", params={"focus": f"ServiceRequest/{created.json()['id']}"})
        tasks.append(found.json()["entry"][0]["resource"])
    latest = max(authored_at(task) for task in tasks if authored_at(task) is not None)
    assert latest is not None
    now = latest + timedelta(hours=5)  # past every urgent referral's 4 hours, before expiry
    barrier = threading.Barrier(WORKERS)

    def worker(_: int) -> SweepResult:
        barrier.wait()
        return sweep(now, facility=TARGET, batch=4)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(worker, range(WORKERS)))
    ours = {task["id"] for task in tasks}
    for task_id in ours:
        history = operator.get(f"/Task/{task_id}/_history").json()
        statuses = [e["resource"].get("businessStatus", {}).get("text") for e in history["entry"]]
        assert len(statuses) == 2, statuses  # requested, then flagged once
        notices = operator.get(
            "/Communication",
            params={
                "identifier": f"{NOTICE_SYSTEM}|{task_id}-{SlaAction.FLAG_OVERDUE}",
                "_summary": "count",
            },
        ).json()
        assert notices["total"] == 1
    assert sum(r.flagged for r in results) >= REFERRALS
    assert sweep(now, facility=TARGET).flagged == 0  # nothing left
