"""A Claim that settles dispenses: each named dispense is read through the caller's store
(authorized, consented, audited), must be the caller's own, completed, of the Claim's patient
and of its item; a settlement links them once (:mod:`insurance.pharmacy.ledger`) and its
reversal releases them, so the pharmacy may settle them again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from hub.errors import Conflict, Forbidden
from hub.fhir.origin import origin_facility
from hub.fhir.store import FhirStore
from hub.mpi.lookup import same_person_records
from insurance.pharmacy import ledger
from insurance.pharmacy.hooks import refusal
from insurance.pharmacy.rules import (
    MEDICATION_DISPENSE,
    DispenseRefused,
    Refusal,
    check_claimed,
    claimed_dispenses,
)
from insurance.resources import reference


def checked_dispenses(store: FhirStore, claim: dict[str, Any]) -> list[str]:
    """The ids of the dispenses the Claim settles, each checked; [] for a Claim naming none."""
    named = claimed_dispenses(claim)
    if not named:
        return []
    patient = reference(claim.get("patient")).removeprefix("Patient/")
    person = same_person_records(store.session, [patient])[patient]
    ids = []
    for item, dispense_id in named:
        dispensed = store.read(MEDICATION_DISPENSE, dispense_id).as_dict()  # 404 when hidden
        if origin_facility(dispensed) != store.actor.facility:
            raise Forbidden(
                f"{MEDICATION_DISPENSE}/{dispense_id} was dispensed by another facility; "
                "a pharmacy settles its own dispenses"
            )
        try:
            check_claimed(dispensed, item, person)
        except DispenseRefused as exc:
            raise refusal(exc) from None
        counted = ledger.counted(store.session, dispense_id)
        if counted is None or counted.quantity == 0:
            raise refusal(
                DispenseRefused(
                    Refusal.NOT_SETTLEABLE,
                    f"{MEDICATION_DISPENSE}/{dispense_id} is not counted against a prescription "
                    "the hub holds",
                )
            )
        if ledger.is_settled(store.session, dispense_id):
            raise Conflict(f"{MEDICATION_DISPENSE}/{dispense_id} is settled already")
        ids.append(dispense_id)
    if len(set(ids)) != len(ids):
        raise Conflict("a Claim settles each dispense once (two items name the same one)")
    return ids


def link(store: FhirStore, settlement_id: int, dispense_ids: list[str]) -> None:
    """Link the dispenses to the settlement; 409 when another settlement holds one."""
    if not dispense_ids:
        return
    savepoint = store.session.begin_nested()
    try:
        ledger.link_settlement(store.session, settlement_id, dispense_ids)
    except IntegrityError:
        savepoint.rollback()
        raise Conflict(
            "a dispense of this Claim is settled already (reverse that settlement first)"
        ) from None
    savepoint.commit()


def release(store: FhirStore, settlement_id: int) -> None:
    ledger.release_settlement(store.session, settlement_id)
