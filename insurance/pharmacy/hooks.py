"""The MedicationDispense write hook: every dispense, on every path (FHIR, Bundles, HL7 v2 RDS),
takes its quantity from its prescription's ledger row in the writing transaction, or is refused
and the whole write rolls back (an OperationOutcome over FHIR, a dead letter for HL7 v2).

Registered in :mod:`hub.wiring`. A dispense without an ``authorizingPrescription`` (an
over-the-counter sale, a ward's stock) is no prescription's business and is left alone.
"""

from __future__ import annotations

from typing import Any

from hub.auth.roles import Role
from hub.errors import Conflict, FhirError, Forbidden
from hub.fhir.store import FhirStore
from hub.fhir.write_hooks import WriteKind
from hub.mpi.lookup import same_person_records
from insurance.pharmacy import ledger
from insurance.pharmacy.rules import (
    MEDICATION_REQUEST,
    Dispense,
    DispenseRefused,
    Refusal,
    check_dispense,
    dispense,
    prescription,
    prescription_of,
)

_STATUS = {
    Refusal.NOT_ADDRESSED: 403,
    Refusal.MORE_THAN_PRESCRIBED: 409,
    Refusal.SETTLED: 409,
}


def refusal(exc: DispenseRefused) -> FhirError:
    """The OperationOutcome a refused dispense or settlement is answered with."""
    status = _STATUS.get(exc.reason, 422)
    if status == 403:
        return Forbidden(str(exc))
    if status == 409:
        return Conflict(str(exc))
    return FhirError(str(exc), status=status, code="business-rule")


def dispense_written(
    store: FhirStore, kind: WriteKind, resource_type: str, resource: dict[str, Any]
) -> None:
    try:
        _count(store, kind, resource)
    except DispenseRefused as exc:
        raise refusal(exc) from None


def _count(store: FhirStore, kind: WriteKind, resource: dict[str, Any]) -> None:
    dispense_id = str(resource["id"])
    before = ledger.counted(store.session, dispense_id)
    if kind is WriteKind.DELETE:  # it gives back what it counted, if it counted
        prescription_id = before.prescription_id if before else None
    else:
        prescription_id = prescription_of(resource)
    if before is not None and before.prescription_id != prescription_id:
        raise DispenseRefused(
            Refusal.PRESCRIPTION_CHANGED,
            "a dispense keeps the prescription it was counted against; "
            "enter it in error and record a new one",
        )
    if prescription_id is None:
        return
    found = store.system.current(MEDICATION_REQUEST, prescription_id)
    if found is None and before is None:
        # Not a prescription the hub holds (a facility allowed dangling references): nothing
        # to count it against, and a dispense never counted is never settled.
        return
    given = None if kind is WriteKind.DELETE else dispense(resource)
    was = before.quantity if before else 0
    now = given.counted if given else 0
    if now != was and ledger.is_settled(store.session, dispense_id):
        raise DispenseRefused(
            Refusal.SETTLED, "the dispense is settled: reverse its settlement first"
        )
    if given is not None and now > 0:
        _check_and_open(store, prescription_id, found, given, taking=now > was)
    if now > was and not ledger.take(store.session, prescription_id, now - was):
        left = ledger.remaining(store.session, prescription_id)
        raise DispenseRefused(
            Refusal.MORE_THAN_PRESCRIBED,
            f"dispensing more than prescribed: {MEDICATION_REQUEST}/{prescription_id} has "
            f"{left} left, this dispense takes {now - was}",
        )
    if now < was:
        ledger.give_back(store.session, prescription_id, was - now)
    if before is not None or now > 0:
        ledger.record_count(store.session, dispense_id, prescription_id, now)


def _check_and_open(
    store: FhirStore,
    prescription_id: str,
    found: dict[str, Any] | None,
    given: Dispense,
    taking: bool,
) -> None:
    if found is None:  # deleted since the dispense was counted
        raise DispenseRefused(
            Refusal.NOT_A_PRESCRIPTION,
            f"authorizingPrescription: {MEDICATION_REQUEST}/{prescription_id} is not held here",
        )
    rx = prescription(found)
    patient = rx.patient.removeprefix("Patient/")
    person = same_person_records(store.session, [patient])[patient]
    facility = None if store.actor.role is Role.operator else store.actor.facility
    check_dispense(rx, given, facility, person)
    if taking and not rx.active:
        raise DispenseRefused(
            Refusal.NOT_ACTIVE, f"{MEDICATION_REQUEST}/{prescription_id} is not active"
        )
    assert rx.total is not None  # check_dispense refused a prescription without a quantity
    ledger.open_supply(store.session, prescription_id, rx.total)
