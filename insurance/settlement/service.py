"""Settlement: pre-settle, settle (exactly once per Claim identifier), reverse.

Each function takes the caller's store (its session, actor and audit) and never commits: the
view's unit of work does. Resources (Claim, ClaimResponse, ExplanationOfBenefit) are written
through the store, so its one decision point (authorization, consent, audit) applies; the
ledger tables (:mod:`insurance.settlement.ledger`) hold what needs a constraint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError

from hub.errors import Conflict, FhirError, Forbidden, NotFound
from hub.fhir.store import FhirStore
from insurance.adjudication import (
    Accumulators,
    Adjudication,
    AdjudicationError,
    Context,
    adjudicate,
)
from insurance.pharmacy import claims as dispensed
from insurance.pharmacy.rules import with_dispenses
from insurance.policy import PolicyVersion
from insurance.policy_source import configured_policy
from insurance.resources import (
    ClaimInvalid,
    claim_key,
    claim_lines,
    claim_response,
    content_hash,
    diagnosis_codes,
    explanation_of_benefit,
)
from insurance.settlement import ledger
from insurance.settlement.models import SettlementRow
from insurance.store_access import covered_patient, settling_level, upward_referral

CAS_ATTEMPTS = 20  # a compare-and-set lost to another cashier is computed again


@dataclass(frozen=True)
class Submitted:
    response: dict[str, Any]
    created: bool  # False: a pre-settlement, or a retry answered with the first result


def _policy(now: datetime) -> PolicyVersion:
    return configured_policy().on(now.date())


def _adjudicate(
    store: FhirStore, claim: dict[str, Any], now: datetime, before: Accumulators | None
) -> tuple[Adjudication, ledger.AccountKey, int]:
    policy = _policy(now)
    patient_id, terms = covered_patient(store, claim)
    level = settling_level(store.actor.facility)
    benefit = policy.benefit(terms.scheme, level)
    if benefit is None:
        raise FhirError(
            f"the policy has no benefit for {terms.scheme} at level {level}",
            status=422,
            code="business-rule",
        )
    validity = policy.referral.validity_days
    referral = upward_referral(store, patient_id, store.actor.facility, validity)
    chronic = next((c for c in diagnosis_codes(claim) if policy.chronic(c)), None)
    context = Context(
        scheme_benefit=benefit,
        level=level,
        has_upward_referral=referral is not None,
        chronic_code=chronic,
        use_account=claim.get("accountUse", True) is not False,
    )
    key = ledger.AccountKey(patient_id, now.year, terms.scheme)
    opening = terms.account_balance
    accumulators = before or ledger.accumulators(store.session, key, opening)
    try:
        return adjudicate(policy, accumulators, claim_lines(claim), context), key, opening
    except AdjudicationError as exc:
        raise FhirError(
            str(exc), status=422, code="business-rule", expression=[f"Claim.item[{exc.sequence}]"]
        ) from None
    except ClaimInvalid as exc:
        raise FhirError(str(exc), status=400, code="invalid") from None


def pre_settle(store: FhirStore, claim: dict[str, Any]) -> dict[str, Any]:
    """``use=predetermination``: the split as it would be now; nothing is committed."""
    savepoint = store.session.begin_nested()
    try:
        dispensed.checked_dispenses(store, claim)
        result, _, _ = _adjudicate(store, claim, datetime.now(UTC), None)
    finally:
        savepoint.rollback()  # not even a new accumulator row stays
    return with_dispenses(claim_response(claim, result, settled=False, claim_id=None), claim)


def _first_answer(row: SettlementRow, claim: dict[str, Any]) -> Submitted:
    if row.content_hash != content_hash(claim):
        raise Conflict(
            f"Claim identifier {row.claim_key} was settled before with different content"
        )
    answer: dict[str, Any] = orjson.loads(row.response)
    return Submitted(answer, created=False)


def settle(store: FhirStore, claim: dict[str, Any]) -> Submitted:
    """``use=claim``: settle once per Claim identifier; a retry gets the first answer."""
    try:
        key_text = claim_key(claim)
    except ClaimInvalid as exc:
        raise FhirError(str(exc), status=400, code="required") from None
    first = ledger.settlement_for(store.session, key_text)
    if first is not None:
        return _first_answer(first, claim)
    now = datetime.now(UTC)
    dispense_ids = dispensed.checked_dispenses(store, claim)
    result, key, _ = _adjudicate(store, claim, now, None)
    savepoint = store.session.begin_nested()
    try:
        row = SettlementRow(
            claim_key=key_text,
            content_hash=content_hash(claim),
            patient_id=key.patient_id,
            facility=store.actor.facility,
            year=key.year,
            scheme=key.scheme,
            claim_id="",
            state="settled",
            response="{}",
            created=now,
        )
        store.session.add(row)
        store.session.flush()
    except IntegrityError:  # a concurrent retry inserted the key first: its answer is ours
        savepoint.rollback()
        raced = ledger.settlement_for(store.session, key_text)
        if raced is None:
            raise
        return _first_answer(raced, claim)
    savepoint.commit()
    dispensed.link(store, row.id, dispense_ids)  # each dispense settled once
    for _ in range(CAS_ATTEMPTS):
        if ledger.compare_and_set(store.session, key, result.before, result.after):
            break
        fresh = ledger.accumulators(store.session, key, 0)
        result, key, _ = _adjudicate(store, claim, now, fresh)
    else:
        raise Conflict("the person's accumulators kept changing; retry the settlement")
    stored_claim = store.create("Claim", dict(claim, status="active")).as_dict()
    response = claim_response(claim, result, settled=True, claim_id=stored_claim["id"])
    response = with_dispenses(response, claim)
    stored_response = store.create("ClaimResponse", response).as_dict()
    store.create(
        "ExplanationOfBenefit", explanation_of_benefit(claim, response, stored_claim["id"])
    )
    row.claim_id = stored_claim["id"]
    row.response = orjson.dumps(stored_response).decode()
    ledger.record_entry(store.session, row.id, "settle", result.total, 1, now)
    return Submitted(stored_response, created=True)


def cancel(store: FhirStore, claim_id: str) -> dict[str, Any]:
    """Reverse the settlement of a stored Claim by a compensating ledger entry, once."""
    row = ledger.settlement_of_claim(store.session, claim_id)
    if row is None:
        raise NotFound(f"Claim/{claim_id} has no settlement to reverse")
    if row.facility != store.actor.facility:
        raise Forbidden("only the facility that settled a claim may reverse it")
    if not ledger.mark_reversed(store.session, row.id):
        raise Conflict(f"the settlement of Claim/{claim_id} was reversed already")
    total = ledger.settled_total(store.session, row.id)
    key = ledger.AccountKey(row.patient_id, row.year, row.scheme)
    ledger.compensate(store.session, key, total)
    dispensed.release(store, row.id)  # the pharmacy may settle its dispenses again
    ledger.record_entry(store.session, row.id, "reverse", total, -1, datetime.now(UTC))
    claim = store.read("Claim", claim_id).as_dict()
    store.update("Claim", claim_id, dict(claim, status="cancelled"))
    first: dict[str, Any] = orjson.loads(row.response)
    for eob in store.system.referencing("ExplanationOfBenefit", "claim", f"Claim/{claim_id}"):
        store.update("ExplanationOfBenefit", eob["id"], dict(eob, status="cancelled"))
    return dict(first, status="cancelled", disposition="settlement reversed")
