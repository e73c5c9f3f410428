"""Eligibility: what remains of a person's year (deductible, cap, account balance)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.errors import FhirError
from hub.fhir.store import FhirStore
from insurance.adjudication import remaining
from insurance.policy_source import configured_policy
from insurance.resources import eligibility_response
from insurance.settlement import ledger
from insurance.store_access import covered_patient, settling_level


def check_eligibility(store: FhirStore, request: dict[str, Any]) -> dict[str, Any]:
    """A CoverageEligibilityResponse for the request's patient and Coverage; nothing stored
    (a new person's accumulator row is not kept either)."""
    now = datetime.now(UTC)
    patient_id, terms = covered_patient(store, request)
    level = settling_level(store.actor.facility)
    benefit = configured_policy().on(now.date()).benefit(terms.scheme, level)
    if benefit is None:
        raise FhirError(f"no benefit for {terms.scheme} at level {level}", status=422)
    savepoint = store.session.begin_nested()
    try:
        key = ledger.AccountKey(patient_id, now.year, terms.scheme)
        so_far = ledger.accumulators(store.session, key, terms.account_balance)
    finally:
        savepoint.rollback()
    return eligibility_response(request, terms, remaining(benefit, so_far))
