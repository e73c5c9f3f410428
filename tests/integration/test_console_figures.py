"""The figures behind the console's charts, each from the hub's own data: referrals made and
accepted per day with the median wait (Task histories), findings by rule (the store's counts),
the settlement ledger per day (integer fen). Each is checked as the change one action makes,
since the run's database is shared with the other tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert

from hub.auth.actor import Actor
from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.db import session_scope
from hub.fhir.search.dates import REGION_TZ
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import get_settings
from insurance.claims_audit.codes import RULE_SYSTEM, RuleCode
from insurance.claims_audit.rule_counts import findings_by_rule
from insurance.settlement.models import LedgerEntryRow, SettlementRow
from insurance.settlement.totals import daily_totals
from referral import figures
from referral.figures import referral_days
from tests.integration.referral_parties import (
    REASON,
    SOURCE,
    TARGET,
    ClientFactory,
    created,
    doctors,
    new_case,
    put,
    task_of,
)

OPERATOR = Actor.build(client_id="console:figures", facility="HUB", role=Role.operator,
                       scope=DEFAULT_SCOPES[Role.operator])  # fmt: skip
CATEGORY = {"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}


def as_operator(call: Any, *args: Any, **kwargs: Any) -> Any:
    with session_scope() as session:
        store = FhirStore(session, OPERATOR, get_cipher(), get_settings().fhir_base_url)
        return call(store, *args, **kwargs)


def today() -> Any:
    return datetime.now(UTC).astimezone(REGION_TZ).date()


def test_referrals_made_and_accepted_today_are_counted_with_their_wait(
    client_for: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    parties = doctors(client_for)
    [before] = as_operator(referral_days, today(), 1, REGION_TZ)
    tasks = []
    for _ in range(2):
        case = new_case(parties[SOURCE], opted_out=False)
        request = created(parties[SOURCE], {
            "resourceType": "ServiceRequest", "status": "active", "intent": "order",
            "category": [CATEGORY], "subject": {"reference": f"Patient/{case.patient}"},
            "requester": {"reference": f"Organization/{SOURCE}"},
            "performer": [{"reference": f"HealthcareService/{TARGET}-cardiology"}],
            "reasonCode": REASON,
        })  # fmt: skip
        tasks.append(task_of(parties[SOURCE], request["id"]))
    put(parties[TARGET], tasks[0], status="accepted")
    [after] = as_operator(referral_days, today(), 1, REGION_TZ)
    assert (after.made - before.made, after.accepted - before.accepted) == (2, 1)
    assert after.median_hours_to_accept is not None and after.median_hours_to_accept >= 0
    monkeypatch.setattr(figures, "MAX_VERSIONS", 0)  # a window too large to read on a page
    [counted] = as_operator(referral_days, today(), 1, REGION_TZ)
    assert (counted.made, counted.accepted) == (after.made, after.accepted)
    assert counted.median_hours_to_accept is None


def test_a_finding_counts_under_its_rule_only() -> None:
    before = as_operator(findings_by_rule, today())
    with session_scope() as session:
        FhirStore(session, OPERATOR, get_cipher()).create("DetectedIssue", {
            "resourceType": "DetectedIssue", "status": "preliminary",
            "code": {"coding": [{"system": RULE_SYSTEM, "code": RuleCode.ITEM_SWAP.value}]},
            "identifiedDateTime": datetime.now(UTC).isoformat(),
        })  # fmt: skip
    after = as_operator(findings_by_rule, today())
    changed = {rule: after[rule] - before[rule] for rule in RuleCode if after[rule] != before[rule]}
    assert changed == {RuleCode.ITEM_SWAP: 1}


@pytest.mark.usefixtures("database")
def test_the_settlement_ledger_is_summed_per_local_day_in_fen() -> None:
    def totals() -> Any:
        with session_scope() as session:
            return daily_totals(session, first_day=today(), days=1, zone=REGION_TZ)[0]

    before = totals()
    now = datetime.now(UTC)
    with session_scope() as session:
        settlement = session.execute(insert(SettlementRow).returning(SettlementRow.id), {
            "claim_key": f"urn:test|{uuid.uuid4().hex}", "content_hash": "0" * 64,
            "patient_id": "p", "facility": "H001", "year": now.year, "scheme": "310",
            "claim_id": uuid.uuid4().hex, "state": "reversed", "response": "{}", "created": now,
        }).scalar_one()  # fmt: skip
        amounts = {"deductible": 0, "account": 500, "cash": 1001}
        session.execute(insert(LedgerEntryRow), [
            {"settlement_id": settlement, "kind": "settle", "submitted": 12345, "fund": 10844,
             **amounts, "created": now},
            {"settlement_id": settlement, "kind": "reverse", "submitted": -12345, "fund": -10844,
             "deductible": 0, "account": -500, "cash": -1001, "created": now},
        ])  # fmt: skip
    after = totals()
    assert after.entries - before.entries == 2
    assert (after.submitted, after.fund, after.cash) == (before.submitted, before.fund, before.cash)
