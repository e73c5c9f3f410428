"""Reconcile a facility's day: its detail file against the hub's settlement ledger.

:func:`reconcile_day` compares (the CLI's dry comparison); :func:`upload_details` stores the
facility's side and then :func:`record_reconciliation`, which compares and stores the hub's
answer (the API's upload, an auditor's re-run and the CLI's ``--upload`` alike). Both sides are
``PaymentReconciliation`` resources (:mod:`insurance.claims_audit.reconcile_fhir`) written
through the store: the facility's side by the uploader, the answer by the hub's reconciliation
identity (an auditor writes nothing but reviews), so the store's access and audit apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.errors import Conflict, FhirError, Forbidden, NotFound
from hub.fhir.store import FhirStore
from insurance.claims_audit import reconcile_fhir
from insurance.claims_audit.reconciliation import (
    DetailFileError,
    Discrepancy,
    LedgerLine,
    Totals,
    reconcile,
    totals,
)
from insurance.national.envelope import REGION_TZ
from insurance.settlement.totals import settled_on

RECONCILE_ACTOR = Actor.build(
    client_id="hub-reconciliation",
    facility="HUB",
    role=Role.operator,
    scope="system/PaymentReconciliation.cru system/ClaimResponse.rs",
)
TYPE = reconcile_fhir.TYPE


@dataclass(frozen=True)
class DayReconciliation:
    facility: Totals
    hub: Totals
    discrepancies: list[Discrepancy]

    @property
    def balanced(self) -> bool:
        return not self.discrepancies and self.facility == self.hub


def hub_lines(session: Session, facility: str, day: date) -> dict[str, LedgerLine]:
    return {
        s.claim_id: LedgerLine(s.claim_id, s.submitted, s.fund, s.account, s.reversed)
        for s in settled_on(session, facility=facility, day=day, zone=REGION_TZ)
    }


def reconcile_day(
    session: Session, facility: str, day: date, details: dict[str, LedgerLine]
) -> DayReconciliation:
    ours = hub_lines(session, facility, day)
    return DayReconciliation(
        totals(details.values()), totals(ours.values()), reconcile(details, ours)
    )


def _hub_store(store: FhirStore) -> FhirStore:
    """The hub's reconciliation identity, in the caller's transaction."""
    return FhirStore(store.session, RECONCILE_ACTOR, store.cipher, store.base_url)


def _put(store: FhirStore, body: dict[str, Any]) -> dict[str, Any]:
    """Create or update ``body`` at its id; a concurrent first write of the same id (two
    uploads of one day at once) answers 409 rather than failing the transaction."""
    savepoint = store.session.begin_nested()
    try:
        stored, _ = store.update(TYPE, body["id"], body)
    except IntegrityError:
        savepoint.rollback()
        raise Conflict(f"{TYPE}/{body['id']} was written at the same time; send it again") from None
    savepoint.commit()
    return stored.as_dict()


def bad_details(exc: DetailFileError) -> FhirError:
    return FhirError(str(exc), status=422, code="invalid")


def upload_details(
    store: FhirStore, facility: str, day: date, details: dict[str, LedgerLine]
) -> dict[str, Any]:
    """A facility's system stores its day's details (its own facility only) and gets the
    hub's answer; a second upload of the day is a new version of both."""
    actor = store.actor
    if actor.role is Role.facility_system and actor.facility != facility:
        raise Forbidden("a facility uploads its own reconciliation details only")
    if actor.role not in (Role.facility_system, Role.operator):
        raise Forbidden("reconciliation details are uploaded by the facility's system")
    body = reconcile_fhir.upload_resource(facility, day, details, datetime.now(UTC))
    _put(store, body)
    return record_reconciliation(store, facility, day)


def record_reconciliation(store: FhirStore, facility: str, day: date) -> dict[str, Any]:
    """Compare the stored upload of ``facility`` and ``day`` (read as the caller: 404 when
    there is none) with the ledger, and store the hub's answer."""
    try:
        upload = store.read(TYPE, reconcile_fhir.upload_id(facility, day)).as_dict()
    except NotFound:
        raise NotFound(f"no reconciliation details of {facility} for {day.isoformat()}") from None
    try:
        details = reconcile_fhir.parse_upload(upload, day)
    except DetailFileError as exc:  # stored by an operator in another shape
        raise bad_details(exc) from None
    found = reconcile_day(store.session, facility, day, details)
    hub = _hub_store(store)
    responses: dict[str, str] = {}
    for difference in found.discrepancies:
        if difference.hub is not None:
            claim = f"Claim/{difference.setl_id}"
            for response in hub.system.referencing("ClaimResponse", "request", claim):
                responses[difference.setl_id] = f"ClaimResponse/{response['id']}"
    result = reconcile_fhir.result_resource(
        facility,
        day,
        (found.facility, found.hub),
        found.discrepancies,
        responses,
        datetime.now(UTC),
    )
    return _put(hub, result)


def rerun_reconciliation(store: FhirStore, facility: str, day: date) -> dict[str, Any]:
    """An insurance auditor (or an operator) runs the day again against the stored upload."""
    if store.actor.role not in (Role.insurance_auditor, Role.operator):
        raise Forbidden("reconciliations are run by insurance auditors")
    return record_reconciliation(store, facility, day)
