"""Uploads of one facility's day at the same moment, on PostgreSQL: each answers the hub's
result or 409 (never a 500 or a half-written day), and the day takes a new upload after."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.errors import Conflict
from hub.seeding import seed_region
from insurance.claims_audit.reconcile_fhir import result_id, upload_id
from insurance.claims_audit.reconcile_service import upload_details
from insurance.claims_audit.reconciliation import parse_details
from tests.integration.test_claims_audit_concurrency import _store_work

UPLOADS = 4
DAY = date(2026, 2, 14)  # no settlement on it: every detail is missing at the hub
SYSTEM = Actor.build(
    client_id="his-h001", facility="H001", role=Role.facility_system, scope="system/*.cruds"
)
DETAILS = parse_details(
    b"setl_id,medfee_sumamt,fund_pay_sumamt,acct_pay,refd_setl_flag\nS1,10,7,0,0\n"
)


def test_uploads_of_one_day_at_once_answer_or_conflict(hub_on_postgres: str) -> None:
    seed_region()
    barrier = threading.Barrier(UPLOADS)

    def upload(_: int) -> str:
        barrier.wait()
        try:
            result = _store_work(lambda s: upload_details(s, "H001", DAY, DETAILS), SYSTEM)
        except Conflict:
            return "conflict"
        return str(result["outcome"])

    with ThreadPoolExecutor(max_workers=UPLOADS) as pool:
        answers = list(pool.map(upload, range(UPLOADS)))
    assert set(answers) <= {"partial", "conflict"} and "partial" in answers
    done = answers.count("partial")
    stored = _store_work(lambda s: s.read("PaymentReconciliation", upload_id("H001", DAY)), SYSTEM)
    assert stored.version_id == done  # each accepted upload is one version, nothing half-done
    again = _store_work(lambda s: upload_details(s, "H001", DAY, DETAILS), SYSTEM)
    assert again["id"] == result_id("H001", DAY) and again["outcome"] == "partial"
