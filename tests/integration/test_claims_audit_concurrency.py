"""Two audit runs write the same findings at the same moment, on PostgreSQL: each finding is
stored once (its id is its key, so the store's unique id decides, not a read-then-write)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any

from hub.auth.actor import SYSTEM_ACTOR, Actor
from hub.db import session_scope
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.seeding import seed_region
from hub.settings import get_settings
from insurance.claims_audit.codes import RuleCode, Severity
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.service import CLAIMS_AUDIT_ACTOR, Recorded, record_findings

RUNS = 4
FINDINGS = 6


def _store_work(work: Callable[[FhirStore], Any], actor: Actor = CLAIMS_AUDIT_ACTOR) -> Any:
    with session_scope() as session:
        store = FhirStore(session, actor, get_cipher(), get_settings().fhir_base_url)
        return work(store)


def _visits(store: FhirStore) -> tuple[str, list[str]]:
    patient = store.create(
        "Patient", {"resourceType": "Patient", "name": [{"family": "稽核", "given": ["并发"]}]}
    ).resource_id
    start = datetime(2026, 3, 1, 9).astimezone()
    visits = [
        store.create(
            "Encounter",
            {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {"code": "AMB"},
                "subject": {"reference": f"Patient/{patient}"},
                "period": {"start": (start + timedelta(hours=n)).isoformat()},
            },
        ).resource_id
        for n in range(FINDINGS)
    ]
    return patient, visits


def test_two_runs_at_once_write_each_finding_once(hub_on_postgres: str) -> None:
    seed_region()  # Organization/H001, which a finding's evidence names
    patient, visits = _store_work(_visits, SYSTEM_ACTOR)
    findings = [
        Finding(RuleCode.PHANTOM_SERVICE, Severity.MODERATE, "H001", patient, date(2026, 3, 1),
                100 * n, f"planted {n}", "two places", encounters=(visit,))
        for n, visit in enumerate(visits)
    ]  # fmt: skip
    barrier = threading.Barrier(RUNS)

    def run(_: int) -> Recorded:
        barrier.wait()
        result: Recorded = _store_work(lambda store: record_findings(store, findings))
        return result

    with ThreadPoolExecutor(max_workers=RUNS) as pool:
        results = list(pool.map(run, range(RUNS)))
    assert sum(r.created for r in results) == FINDINGS
    assert sum(r.already for r in results) == FINDINGS * (RUNS - 1)
    query = [("patient", f"Patient/{patient}"), ("_count", "100")]
    stored = _store_work(lambda store: store.search("DetectedIssue", query).matches)
    assert sorted(s.resource_id for s in stored) == sorted(f"ca-{f.key}" for f in findings)
