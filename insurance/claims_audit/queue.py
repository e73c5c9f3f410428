"""The incremental audit's queue: a settled claim is enqueued in its settlement's transaction
and audited after the commit, per facility (:mod:`hub.work_queues`: a Celery task with a
broker, a thread in the demo; the sweeper finds rows whose wake-up was lost).

A prescription or dispense that arrives after the settlement (the pharmacy's feed lags the
cashier's) enqueues the settled claims of its encounter again (:func:`late_record_written`):
the re-run records what the new record shows and closes the findings it disproves
(:func:`insurance.claims_audit.service.reaudit_claim`).

Each claim is audited in its own transaction that first deletes its pending row: on PostgreSQL
a second worker's delete waits for the first and then finds nothing, so a claim is audited once;
the findings' ids make a repeated audit harmless anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.db import session_scope
from hub.fhir.origin import origin_facility
from hub.fhir.store import FhirStore
from hub.fhir.write_hooks import WriteKind
from hub.security.fields import get_cipher
from hub.settings import get_settings
from hub.work_queues import WorkQueue, wake_after_commit
from insurance.claims_audit.models import PendingAuditRow
from insurance.claims_audit.service import CLAIMS_AUDIT_ACTOR, reaudit_claim
from insurance.resources import reference

AUDIT_FACILITY_TASK = "hub.insurance.audit_facility_claims"  # the stable name publishers send
BATCH = 100


@dataclass(frozen=True)
class Drained:
    audited: int
    findings: int


def enqueue(session: Session, claim_id: str, facility: str) -> None:
    """Add the claim to the queue, in the caller's transaction (again: nothing happens)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(PendingAuditRow)
        .values(claim_id=claim_id, facility=facility, enqueued_at=datetime.now(UTC))
        .on_conflict_do_nothing()
    )
    wake_after_commit(session, QUEUE, [facility])


def settlement_written(
    store: FhirStore, kind: WriteKind, resource_type: str, resource: dict[str, Any]
) -> None:
    """Write hook on ExplanationOfBenefit: a settlement's EOB enqueues its claim's audit."""
    claim = (resource.get("claim") or {}).get("reference", "")
    if kind is WriteKind.CREATE and resource.get("status") == "active" and claim:
        enqueue(store.session, claim.removeprefix("Claim/"), store.actor.facility)


# where each late record names its encounter
ENCOUNTER_OF = {"MedicationDispense": "context", "MedicationRequest": "encounter"}


def late_record_written(
    store: FhirStore, kind: WriteKind, resource_type: str, resource: dict[str, Any]
) -> None:
    """Write hook on MedicationDispense and MedicationRequest: the settled claims of its
    encounter are audited again (none settled yet: nothing to do, the settlement will)."""
    encounter = reference(resource.get(ENCOUNTER_OF[resource_type]))
    if kind is WriteKind.DELETE or not encounter.startswith("Encounter/"):
        return
    for claim in store.system.referencing("Claim", "encounter", encounter):
        if claim.get("use") != "claim" or claim.get("status") != "active":
            continue
        provider = reference(claim.get("provider")).removeprefix("Organization/")
        facility = origin_facility(claim) or provider
        if facility:
            enqueue(store.session, str(claim["id"]), facility)


def facilities_due(session: Session) -> list[str]:
    return list(session.scalars(select(PendingAuditRow.facility).distinct()))


def drain_facility(facility: str) -> Drained:
    """Audit every pending claim of ``facility``, one transaction per claim."""
    with session_scope() as session:
        claims = list(
            session.scalars(
                select(PendingAuditRow.claim_id)
                .where(PendingAuditRow.facility == facility)
                .order_by(PendingAuditRow.enqueued_at)
                .limit(BATCH)
            )
        )
    audited = found = 0
    for claim_id in claims:
        with session_scope() as session:
            taken = session.execute(
                delete(PendingAuditRow).where(PendingAuditRow.claim_id == claim_id)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                continue  # another worker audited it
            store = FhirStore(
                session, CLAIMS_AUDIT_ACTOR, get_cipher(), get_settings().fhir_base_url
            )
            found += reaudit_claim(store, claim_id).created
            audited += 1
    return Drained(audited, found)


QUEUE = WorkQueue("claims-audit", AUDIT_FACILITY_TASK, drain_facility, facilities_due)
