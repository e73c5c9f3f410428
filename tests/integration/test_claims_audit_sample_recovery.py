"""The manual-review sample drawn by the day's run and the incremental audit alike, reviewed
with ``$review``; a confirmed finding's recovery, or the reversal its claim already had."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from hub.auth.roles import Role
from insurance.claims_audit import service
from insurance.claims_audit.codes import RuleCode
from insurance.claims_audit.params import FacilityShare, ManualReviewSampleParams
from insurance.claims_audit.recovery import ACTION_SYSTEM, EXT_RECORD, RECOVERY_SYSTEM
from insurance.claims_audit.recovery_service import recovery_total
from insurance.claims_audit.service import audit_claim, audit_day, record_findings
from insurance.policy import Policy, Scheme
from insurance.policy_source import configured_policy
from insurance.resources import coverage_resource
from tests.integration.booking_helpers import new_patient
from tests.integration.test_claims_audit import (
    CBC,
    CONSULT,
    DAY,
    _as_hub,
    _auditor,
    _claim,
    _encounter,
    _review,
    _settle,
)


def _policy_drawing_all_of(facility: str) -> Policy:
    real = configured_policy()
    sample = ManualReviewSampleParams(
        facility_shares=(FacilityShare(facility=facility, share=Decimal(1)),)
    )
    versions = []
    for version in real.versions:
        if version.claims_audit is not None:
            audit = version.claims_audit.model_copy(update={"manual_review_sample": sample})
            version = version.model_copy(update={"claims_audit": audit})
        versions.append(version)
    return real.model_copy(update={"versions": tuple(versions)})


@pytest.fixture
def everything_at_h001(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's audits draw every unflagged claim at H001 (and none elsewhere)."""
    policy = _policy_drawing_all_of("H001")
    monkeypatch.setattr(service, "configured_policy", lambda: policy)


@pytest.fixture
def day_of_claims(api: httpx.Client, make_token: Callable[..., str], live_hub: Any) -> Any:
    """A new patient's day at H001, its findings recorded: an honest claim (a visit behind
    it), one with no visit (flagged: phantom service) and another with no visit whose
    settlement is reversed after its finding was recorded."""
    cashier = httpx.Client(
        base_url=live_hub.fhir_url, timeout=30,
        headers={"Authorization": f"Bearer {make_token(facility='H001', purpose='HPAYMT')}"},
    )  # fmt: skip
    patient = new_patient(api)
    coverage = api.post(
        "/Coverage",
        json=coverage_resource(patient, Scheme.UEBMI, "420502", 1_000, uuid.uuid4().hex),
    ).json()["id"]
    honest = _settle(
        cashier, _claim(patient, coverage, [(CONSULT, 10.0, _encounter(api, patient))])
    )
    phantom = _settle(cashier, _claim(patient, coverage, [(CBC, 20.0, None)]))
    reversed_ = _settle(cashier, _claim(patient, coverage, [(CONSULT, 9.0, None)]))
    day = {"patient": patient, "honest": honest, "phantom": phantom, "reversed": reversed_}
    _recorded(day)  # before the reversal: a reversed claim is no longer audited
    assert cashier.post(f"/Claim/{reversed_}/$cancel").status_code == 200
    cashier.close()
    return day


def test_unflagged_claims_are_drawn_by_both_runs_once(
    everything_at_h001: None, day_of_claims: dict[str, Any]
) -> None:
    mine = [f for f in _as_hub(lambda s: audit_day(s, DAY, "H001"))
            if f.person == day_of_claims["patient"]]  # fmt: skip
    sampled = [f for f in mine if f.rule is RuleCode.MANUAL_REVIEW_SAMPLE]
    assert [f.claims for f in sampled] == [(day_of_claims["honest"],)]  # flagged ones are not
    assert sampled[0].severity == "low"
    flagged = {c for f in mine if f.rule is not RuleCode.MANUAL_REVIEW_SAMPLE for c in f.claims}
    assert day_of_claims["phantom"] in flagged
    # the incremental audit, one claim at a time, draws the same finding
    alone = _as_hub(lambda s: audit_claim(s, day_of_claims["honest"]))
    assert [f.key for f in alone if f.rule is RuleCode.MANUAL_REVIEW_SAMPLE] == [sampled[0].key]
    first = _as_hub(lambda s: record_findings(s, sampled))
    again = _as_hub(lambda s: record_findings(s, alone))
    assert first.created + first.already == 1 and again.created == 0


def test_no_share_draws_nothing(day_of_claims: dict[str, Any], monkeypatch: Any) -> None:
    policy = _policy_drawing_all_of("H999")
    monkeypatch.setattr(service, "configured_policy", lambda: policy)
    mine = [f for f in _as_hub(lambda s: audit_day(s, DAY, "H001"))
            if f.person == day_of_claims["patient"]]  # fmt: skip
    assert mine and all(f.rule is not RuleCode.MANUAL_REVIEW_SAMPLE for f in mine)


def _finding(auditor: httpx.Client, patient: str, claim: str, rule: RuleCode) -> dict[str, Any]:
    found = auditor.get("/DetectedIssue", params={
        "patient": f"Patient/{patient}", "implicated": f"Claim/{claim}"}).json()  # fmt: skip
    return next(
        e["resource"] for e in found["entry"]
        if e["resource"]["code"]["coding"][0]["code"] == rule
    )  # fmt: skip


def _recorded(day: dict[str, Any]) -> None:
    findings = [
        f for f in _as_hub(lambda s: audit_day(s, DAY, "H001")) if f.person == day["patient"]
    ]
    _as_hub(lambda s: record_findings(s, findings))


def test_a_confirmed_sample_recovers_its_amount_traceably(
    everything_at_h001: None,
    day_of_claims: dict[str, Any],
    client_for: Callable[..., httpx.Client],
) -> None:
    _recorded(day_of_claims)
    auditor = _auditor(client_for)
    patient, honest = day_of_claims["patient"], day_of_claims["honest"]
    sample = _finding(auditor, patient, honest, RuleCode.MANUAL_REVIEW_SAMPLE)
    assert sample["severity"] == "low" and sample["status"] == "preliminary"
    before = _as_hub(lambda s: recovery_total(s, "H001"))
    confirmed = _review(auditor, sample["id"], "confirmed", "the visit was billed twice", 3.5)
    assert confirmed.status_code == 200, confirmed.text
    (mitigation,) = confirmed.json()["mitigation"]
    assert mitigation["action"]["coding"][0] == {"system": ACTION_SYSTEM, "code": "recovery"}
    assert mitigation["author"] == {"display": "auditor-1"} and mitigation["date"]
    record = next(e for e in mitigation["extension"] if e["url"] == EXT_RECORD)
    recovery = auditor.get(f"/{record['valueReference']['reference']}").json()
    assert recovery["paymentAmount"] == {"value": 3.5, "currency": "CNY"}
    assert recovery["detail"][0]["request"] == {"reference": f"Claim/{honest}"}
    assert recovery["detail"][0]["amount"]["value"] == -3.5
    assert recovery["identifier"] == [{"system": RECOVERY_SYSTEM, "value": sample["id"]}]
    assert _as_hub(lambda s: recovery_total(s, "H001")) - before == 350
    # the facility reads what is recovered from it; another facility does not
    assert client_for(facility="H001").get(f"/PaymentReconciliation/{recovery['id']}").is_success
    assert (
        client_for(facility="H002").get(f"/PaymentReconciliation/{recovery['id']}").status_code
        == 403
    )
    # nor does the facility forge or void one
    forged = {k: v for k, v in recovery.items() if k not in ("id", "meta")}
    assert (
        client_for(facility="H001").post("/PaymentReconciliation", json=forged).status_code == 403
    )
    voided = dict(recovery, status="cancelled")
    put = client_for(facility="H001").put(f"/PaymentReconciliation/{recovery['id']}", json=voided)
    assert put.status_code == 403
    practitioner = client_for(role=Role.practitioner, facility="H001")
    assert practitioner.get(f"/PaymentReconciliation/{recovery['id']}").status_code == 403


def test_a_confirmed_finding_on_a_reversed_claim_links_the_reversal(
    day_of_claims: dict[str, Any], client_for: Callable[..., httpx.Client]
) -> None:
    _recorded(day_of_claims)
    auditor = _auditor(client_for)
    reversed_ = day_of_claims["reversed"]
    finding = _finding(auditor, day_of_claims["patient"], reversed_, RuleCode.PHANTOM_SERVICE)
    confirmed = _review(auditor, finding["id"], "confirmed", "no visit at all", 12.0)
    assert confirmed.status_code == 200, confirmed.text
    (mitigation,) = confirmed.json()["mitigation"]
    assert mitigation["action"]["coding"][0]["code"] == "reversal"
    record = next(e for e in mitigation["extension"] if e["url"] == EXT_RECORD)
    reference = record["valueReference"]["reference"]
    assert reference.startswith(f"Claim/{reversed_}/_history/")
    assert auditor.get(f"/{reference}").json()["status"] == "cancelled"
    # nothing recovered twice: no recovery record for it
    recovery_id = "rcv-" + finding["id"].removeprefix("ca-")
    assert auditor.get(f"/PaymentReconciliation/{recovery_id}").status_code == 404
