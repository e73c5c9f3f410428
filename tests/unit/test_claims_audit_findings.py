"""Findings as FHIR (pure): the DetectedIssue shape, the auditor's review, who may write a
finding (the store's write decision), and FHIR -> the rules' view."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.errors import Forbidden
from hub.fhir.origin import FACILITY_SOURCE
from hub.fhir.write_access import decide_write
from hub.fhir.write_hooks import WriteKind
from insurance.claims_audit.codes import RULE_SYSTEM, RuleCode, Severity
from insurance.claims_audit.detected_issue import (
    EXT_REVIEW,
    Outcome,
    Review,
    ReviewRefused,
    amount_at_risk,
    detected_issue,
    finding_id,
    reviewed,
)
from insurance.claims_audit.fhir_view import claim_view, dispense_view, encounter_view
from insurance.claims_audit.findings import Finding

NOW = datetime(2026, 3, 2, 8, tzinfo=UTC)
FINDING = Finding(
    rule=RuleCode.DUPLICATE_CHARGE,
    severity=Severity.HIGH,
    facility="H001",
    person="P1",
    day=date(2026, 3, 1),
    amount_fen=2050,
    detail="item billed twice",
    basis="item X",
    claims=("C2", "C1", "C1"),
    encounters=("E1",),
)


def _issue() -> dict[str, Any]:
    return dict(detected_issue(FINDING, NOW), id=finding_id(FINDING.key))


def test_the_detected_issue_carries_rule_evidence_and_amount() -> None:
    issue = _issue()
    assert issue["code"]["coding"][0] == {
        "system": RULE_SYSTEM, "code": "duplicate-charge", "display": "重复收费 Duplicate charge"
    }  # fmt: skip
    assert [i["reference"] for i in issue["implicated"]] == ["Claim/C1", "Claim/C2", "Encounter/E1"]
    assert issue["evidence"][0]["detail"] == [{"reference": "Organization/H001"}]
    assert issue["status"] == "preliminary" and issue["severity"] == "high"
    assert amount_at_risk(issue) == 2050
    assert len(issue["id"]) <= 64  # a valid FHIR id


def test_the_key_names_the_evidence_not_the_words() -> None:
    reworded = Finding(**{**FINDING.__dict__, "detail": "other words", "amount_fen": 1})
    other_claims = Finding(**{**FINDING.__dict__, "claims": ("C1", "C3")})
    assert reworded.key == FINDING.key != other_claims.key


def test_a_negative_amount_is_refused() -> None:
    with pytest.raises(ValueError, match="never negative"):
        Finding(**{**FINDING.__dict__, "amount_fen": -1})


def test_confirm_records_the_review_and_closes_the_finding() -> None:
    done = reviewed(_issue(), Review(Outcome.CONFIRMED, " billed twice ", 2050, "a-1"), NOW)
    assert done["status"] == "final"
    [review] = [e for e in done["extension"] if e["url"] == EXT_REVIEW]
    parts = {p["url"]: p for p in review["extension"]}
    assert parts["reason"]["valueString"] == "billed twice"
    assert parts["recover"]["valueMoney"] == {"value": 20.5, "currency": "CNY"}
    with pytest.raises(ReviewRefused) as again:
        reviewed(done, Review(Outcome.DISMISSED, "no", 0, "a-2"), NOW)
    assert again.value.conflict


@pytest.mark.parametrize(
    ("review", "message"),
    [
        (Review(Outcome.DISMISSED, "fine", 100, "a"), "recovers nothing"),
        (Review(Outcome.CONFIRMED, "   ", 100, "a"), "states its reason"),
        (Review(Outcome.CONFIRMED, "ok", -1, "a"), "never negative"),
        (Review(Outcome.CONFIRMED, "x\x00", 1, "a"), "plain text"),
    ],
)
def test_bad_reviews_are_refused(review: Review, message: str) -> None:
    with pytest.raises(ReviewRefused, match=message) as refused:
        reviewed(_issue(), review, NOW)
    assert not refused.value.conflict


# -- the store's write decision ----------------------------------------------------------------


def _actor(role: Role, facility: str = "H001", patient: str | None = None) -> Actor:
    return Actor.build(client_id="c", facility=facility, role=role, scope="", patient=patient)


def test_an_insurance_auditor_may_review_a_finding() -> None:
    issue = _issue()
    done = reviewed(issue, Review(Outcome.CONFIRMED, "yes", 1, "a"), NOW)
    decide_write(_actor(Role.insurance_auditor), WriteKind.UPDATE, "DetectedIssue", issue, done)


@pytest.mark.parametrize(
    ("kind", "resource_type", "change"),
    [
        (WriteKind.UPDATE, "DetectedIssue", {"detail": "nothing"}),
        (WriteKind.UPDATE, "DetectedIssue", {"implicated": []}),
        (WriteKind.UPDATE, "DetectedIssue", {"patient": {"reference": "Patient/P2"}}),
        (WriteKind.CREATE, "DetectedIssue", {}),
        (WriteKind.DELETE, "DetectedIssue", {}),
        (WriteKind.UPDATE, "Claim", {}),
    ],
)
def test_an_insurance_auditor_writes_nothing_else(
    kind: WriteKind, resource_type: str, change: dict[str, Any]
) -> None:
    issue = _issue()
    current = None if kind is WriteKind.CREATE else issue
    new = None if kind is WriteKind.DELETE else dict(issue, **change)
    with pytest.raises(Forbidden):
        decide_write(_actor(Role.insurance_auditor), kind, resource_type, current, new)


@pytest.mark.parametrize(
    "actor",
    [_actor(Role.facility_system), _actor(Role.practitioner, "H002"),
     _actor(Role.patient, patient="P1"), _actor(Role.auditor)],
)  # fmt: skip
def test_no_facility_patient_or_compliance_auditor_writes_a_finding(actor: Actor) -> None:
    with pytest.raises(Forbidden):
        decide_write(actor, WriteKind.CREATE, "DetectedIssue", None, _issue())
    own = dict(_issue(), meta={"source": f"{FACILITY_SOURCE}{actor.facility}"})
    with pytest.raises(Forbidden):
        decide_write(actor, WriteKind.UPDATE, "DetectedIssue", own, dict(own, status="cancelled"))


def test_the_hub_writes_findings() -> None:
    decide_write(_actor(Role.operator, "HUB"), WriteKind.CREATE, "DetectedIssue", None, _issue())


# -- FHIR -> the view ----------------------------------------------------------------------------


def test_a_settled_claim_with_its_fund_shares() -> None:
    claim = {
        "resourceType": "Claim", "id": "C1", "use": "claim", "status": "active",
        "created": "2026-03-01", "patient": {"reference": "Patient/P1"},
        "provider": {"reference": "Organization/H001"},
        "diagnosis": [{"diagnosisCodeableConcept": {"coding": [{"code": "J18"}]}}],
        "item": [
            {"sequence": 1, "productOrService": {"coding": [{"code": "X"}]},
             "quantity": {"value": 2}, "unitPrice": {"value": 10.05},
             "encounter": [{"reference": "Encounter/E1"}], "servicedDate": "2026-02-28"},
        ],
    }  # fmt: skip
    response = {
        "item": [{"itemSequence": 1, "adjudication": [
            {"category": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/adjudication",
                                      "code": "benefit"}]}, "amount": {"value": 16.08}}]}]
    }  # fmt: skip
    view = claim_view(claim, response)
    assert view is not None
    [line] = view.lines
    assert (line.amount_fen, line.fund_fen, line.encounter) == (2010, 1608, "E1")
    assert line.service_date == date(2026, 2, 28) and view.facility == "H001"
    assert view.diagnoses == ("J18",)
    assert claim_view(dict(claim, status="cancelled"), response) is None  # reversed
    assert claim_view(dict(claim, use="predetermination"), response) is None


def test_encounters_and_dispenses() -> None:
    stay = encounter_view(
        {"id": "S1", "class": {"code": "IMP"}, "subject": {"reference": "Patient/P1"},
         "serviceProvider": {"reference": "Organization/H002"},
         "period": {"start": "2026-03-01T09:00:00+08:00"}}
    )  # fmt: skip
    assert stay is not None and stay.inpatient and stay.end is None and stay.facility == "H002"
    dispense = dispense_view(
        {"id": "D1", "subject": {"reference": "Patient/P1"}, "whenHandedOver": "2026-03-01",
         "medicationCodeableConcept": {"coding": [{"code": "M"}]}, "quantity": {"value": 30},
         "daysSupply": {"value": 30}, "context": {"reference": "Encounter/E1"},
         "meta": {"source": f"{FACILITY_SOURCE}H003"}}
    )  # fmt: skip
    assert dispense is not None
    assert (dispense.days_supply, dispense.encounter, dispense.facility) == (30, "E1", "H003")
