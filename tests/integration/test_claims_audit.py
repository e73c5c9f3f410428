"""Claims audit end to end: settled claims with planted patterns -> findings written once as
DetectedIssue -> an insurance auditor searches and reviews them; every other role is refused
(another facility, the facility itself, a patient, a forged finding, a review that rewrites the
evidence)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub.auth.roles import Role
from hub.db import session_scope
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import get_settings
from insurance.claims_audit.codes import RULE_SYSTEM
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.models import PendingAuditRow
from insurance.claims_audit.queue import drain_facility
from insurance.claims_audit.service import (
    CLAIMS_AUDIT_ACTOR,
    Recorded,
    audit_claim,
    audit_day,
    record_findings,
)
from insurance.policy import Scheme
from insurance.resources import coverage_resource
from tests.integration.booking_helpers import new_patient
from tests.integration.hub_cli import run_hub
from tests.integration.test_insurance_settlement import _claim as settlement_claim

DAY = date(2026, 3, 1)
CONSULT, CBC, AMOXICILLIN = "001102000000100", "002701000000100", "XJ01CAA040A001010100001"


def _encounter(api: httpx.Client, patient: str) -> str:
    body = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{patient}"},
        "serviceProvider": {"reference": "Organization/H001"},
        "period": {"start": "2026-03-01T09:00:00+08:00", "end": "2026-03-01T09:30:00+08:00"},
    }
    created = api.post("/Encounter", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _claim(patient: str, coverage: str, items: list[tuple[str, float, str | None]]) -> Any:
    """A Claim of 2026-03-01 at H001, each item (code, price, its Encounter or None)."""
    claim = settlement_claim(
        patient, coverage, "claim", [(code, 1, price) for code, price, _ in items]
    )
    for item, (_, _, encounter) in zip(claim["item"], items, strict=True):
        if encounter:
            item["encounter"] = [{"reference": f"Encounter/{encounter}"}]
    return claim


def _settle(cashier: httpx.Client, claim: Any) -> str:
    answer = cashier.post("/Claim/$submit", json=claim)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["request"]["reference"]).removeprefix("Claim/")


def _as_hub(work: Callable[[FhirStore], Any]) -> Any:
    with session_scope() as session:
        store = FhirStore(session, CLAIMS_AUDIT_ACTOR, get_cipher(), get_settings().fhir_base_url)
        return work(store)


@pytest.fixture(scope="module")
def planted(api: httpx.Client, make_token: Callable[..., str], live_hub: Any) -> dict[str, Any]:
    """One patient's day at H001: an honest claim, the same blood count billed again for the
    same visit, and a claim with no visit behind it."""
    cashier = httpx.Client(
        base_url=live_hub.fhir_url,
        headers={"Authorization": f"Bearer {make_token(facility='H001', purpose='HPAYMT')}"},
        timeout=30,
    )
    patient = new_patient(api)
    coverage = api.post(
        "/Coverage",
        json=coverage_resource(patient, Scheme.UEBMI, "420502", 0, uuid.uuid4().hex),
    ).json()["id"]
    visit = _encounter(api, patient)
    honest = _settle(
        cashier, _claim(patient, coverage, [(CONSULT, 10.0, visit), (CBC, 20.0, visit)])
    )
    again = _settle(cashier, _claim(patient, coverage, [(CBC, 20.0, visit)]))
    phantom = _settle(cashier, _claim(patient, coverage, [(CONSULT, 10.0, None)]))
    cashier.close()
    findings: list[Finding] = _as_hub(lambda store: audit_day(store, DAY, "H001"))
    mine = [f for f in findings if f.person == patient]
    recorded: Recorded = _as_hub(lambda store: record_findings(store, mine))
    return {
        "patient": patient, "visit": visit, "honest": honest, "again": again,
        "phantom": phantom, "findings": mine, "recorded": recorded,
    }  # fmt: skip


def _auditor(client_for: Callable[..., httpx.Client]) -> httpx.Client:
    return client_for(role=Role.insurance_auditor, facility="YB420500", client_id="auditor-1")


def _search(client: httpx.Client, patient: str, **params: str) -> httpx.Response:
    return client.get("/DetectedIssue", params={"patient": f"Patient/{patient}", **params})


def test_the_planted_patterns_are_found_with_evidence(planted: dict[str, Any]) -> None:
    by_rule = {(f.rule, f.basis): f for f in planted["findings"]}
    duplicate = next(f for (rule, _), f in by_rule.items() if rule == "duplicate-charge")
    assert set(duplicate.claims) == {planted["honest"], planted["again"]}
    assert duplicate.encounters == (planted["visit"],) and duplicate.amount_fen == 2000
    phantom = by_rule[("phantom-service", "no encounter")]
    assert phantom.claims == (planted["phantom"],) and phantom.amount_fen == 1000
    assert len(planted["findings"]) == 2  # the honest visit adds nothing else
    # the incremental audit after each settlement may have written them first: once, either way
    recorded = planted["recorded"]
    assert recorded.created + recorded.already == 2


def test_a_rerun_writes_nothing_twice(planted: dict[str, Any]) -> None:
    again = _as_hub(lambda store: record_findings(store, planted["findings"]))
    assert again == Recorded(created=0, already=2)


def test_the_incremental_run_finds_the_same_for_one_claim(planted: dict[str, Any]) -> None:
    found = _as_hub(lambda store: audit_claim(store, planted["phantom"]))
    assert [f.key for f in found] == [
        f.key for f in planted["findings"] if planted["phantom"] in f.claims
    ]


def test_a_settlement_enqueues_its_audit_and_the_queue_finds_it(
    planted: dict[str, Any], api: httpx.Client, client_for: Callable[..., httpx.Client]
) -> None:
    """Settled over the API, audited by the queue: a claim for a visit that dispensed nothing."""
    cashier = client_for(facility="H001", purpose="HPAYMT")
    coverage = api.post(
        "/Coverage",
        json=coverage_resource(planted["patient"], Scheme.UEBMI, "420502", 0, uuid.uuid4().hex),
    ).json()["id"]
    visit = _encounter(api, planted["patient"])
    claim = _settle(cashier, _claim(planted["patient"], coverage, [(AMOXICILLIN, 0.35, visit)]))
    drain_facility("H001")  # as the worker does (the live hub's own thread may get there first)
    with session_scope() as session:
        assert claim not in {
            row.claim_id for row in session.scalars(select(PendingAuditRow))
        }  # dequeued
    auditor = _auditor(client_for)
    found = auditor.get("/DetectedIssue", params={"implicated": f"Claim/{claim}"})
    assert found.status_code == 200, found.text
    [entry] = found.json()["entry"]
    assert entry["resource"]["code"]["coding"][0]["code"] == "phantom-service"
    assert f"Encounter/{visit}" in entry["resource"]["detail"]


def test_an_auditor_searches_by_facility_rule_status_and_date(
    planted: dict[str, Any], client_for: Callable[..., httpx.Client]
) -> None:
    auditor = _auditor(client_for)
    found = _search(
        auditor, planted["patient"], facility="Organization/H001",
        code=f"{RULE_SYSTEM}|duplicate-charge", status="preliminary", identified="ge2026-01-01",
    )  # fmt: skip
    assert found.status_code == 200, found.text
    [entry] = found.json()["entry"]
    issue = entry["resource"]
    assert issue["severity"] == "high" and issue["author"]["display"] == "Hub claims audit"
    assert {i["reference"] for i in issue["implicated"]} == {
        f"Claim/{planted['honest']}",
        f"Claim/{planted['again']}",
        f"Encounter/{planted['visit']}",
    }
    other = _search(auditor, planted["patient"], facility="Organization/H002")
    assert other.json().get("entry", []) == []


def _review(client: httpx.Client, issue: str, outcome: str, reason: str, amount: float) -> Any:
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "outcome", "valueCode": outcome},
            {"name": "reason", "valueString": reason},
            {"name": "amount", "valueMoney": {"value": amount, "currency": "CNY"}},
        ],
    }
    return client.post(f"/DetectedIssue/{issue}/$review", json=body)


def _issue_of(client: httpx.Client, planted: dict[str, Any], rule: str) -> dict[str, Any]:
    claim = planted["again" if rule == "duplicate-charge" else "phantom"]
    found = _search(client, planted["patient"], code=f"{RULE_SYSTEM}|{rule}",
                    implicated=f"Claim/{claim}")  # fmt: skip
    assert found.status_code == 200, found.text
    return dict(found.json()["entry"][0]["resource"])


def test_an_auditor_confirms_once_and_dismisses_with_a_reason(
    planted: dict[str, Any], client_for: Callable[..., httpx.Client]
) -> None:
    auditor = _auditor(client_for)
    duplicate = _issue_of(auditor, planted, "duplicate-charge")
    confirmed = _review(auditor, duplicate["id"], "confirmed", "billed twice at the desk", 20.0)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "final"
    review = next(e for e in confirmed.json()["extension"] if e["url"].endswith("-review"))
    parts = {p["url"]: p for p in review["extension"]}
    assert parts["recover"]["valueMoney"]["value"] == 20.0
    assert parts["reviewer"]["valueString"] == "auditor-1"
    twice = _review(auditor, duplicate["id"], "dismissed", "changed my mind", 0)
    assert twice.status_code == 409, twice.text
    phantom = _issue_of(auditor, planted, "phantom-service")
    refused = _review(auditor, phantom["id"], "dismissed", "walk-in", 5.0)
    assert refused.status_code == 422, refused.text  # a dismissal recovers nothing
    no_reason = _review(auditor, phantom["id"], "dismissed", "  ", 0)
    assert no_reason.status_code == 422, no_reason.text
    dismissed = _review(auditor, phantom["id"], "dismissed", "registration arrived late", 0)
    assert dismissed.json()["status"] == "cancelled"
    history = auditor.get(f"/DetectedIssue/{phantom['id']}/_history")
    assert history.status_code == 200 and history.json()["total"] == 2  # each step a version


# -- attacks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("facility", ["H001", "H002"])
def test_facilities_read_and_change_no_finding(
    planted: dict[str, Any], client_for: Callable[..., httpx.Client], facility: str
) -> None:
    """Neither the audited facility nor another may read, search, review or forge findings."""
    auditor = _auditor(client_for)
    issue = _issue_of(auditor, planted, "duplicate-charge")
    system = client_for(facility=facility, purpose="HPAYMT")
    assert _search(system, planted["patient"]).status_code == 403
    assert system.get(f"/DetectedIssue/{issue['id']}").status_code == 403
    assert _review(system, issue["id"], "dismissed", "not us", 0).status_code == 403
    changed = dict(issue, status="cancelled")
    assert system.put(f"/DetectedIssue/{issue['id']}", json=changed).status_code == 403
    forged = {k: v for k, v in issue.items() if k not in ("id", "meta")}
    assert system.post("/DetectedIssue", json=forged).status_code == 403


def test_a_patient_does_not_see_findings_about_them(
    planted: dict[str, Any], client_for: Callable[..., httpx.Client]
) -> None:
    patient = client_for(role=Role.patient, facility="H001", patient=planted["patient"])
    assert _search(patient, planted["patient"]).status_code == 403


def test_an_auditor_cannot_rewrite_the_evidence_or_forge_a_finding(
    planted: dict[str, Any], client_for: Callable[..., httpx.Client]
) -> None:
    auditor = _auditor(client_for)
    issue = _issue_of(auditor, planted, "phantom-service")
    rewritten = dict(issue, detail="nothing to see", implicated=[])
    assert auditor.put(f"/DetectedIssue/{issue['id']}", json=rewritten).status_code == 403
    forged = {k: v for k, v in issue.items() if k not in ("id", "meta")}
    forged["identifier"] = [{"system": "urn:forged", "value": uuid.uuid4().hex}]
    assert auditor.post("/DetectedIssue", json=forged).status_code == 403
    assert auditor.delete(f"/DetectedIssue/{issue['id']}").status_code == 403
    # and writes nothing else: a Claim is the facility's
    claim = auditor.get(f"/Claim/{planted['honest']}").json()
    assert (
        auditor.put(f"/Claim/{claim['id']}", json=dict(claim, status="cancelled")).status_code
        == 403
    )


def test_the_audit_command_prints_and_records_once(planted: dict[str, Any]) -> None:
    run = run_hub("insurance", "audit", "--date", "2026-03-01", "--facility", "H001",
                  "--format", "json")  # fmt: skip
    assert run.returncode == 0, run.stderr
    ours = {planted["honest"], planted["again"], planted["phantom"]}
    mine = [row for row in json.loads(run.stdout) if ours & set(row["claims"])]
    assert sorted(row["rule"] for row in mine) == ["duplicate-charge", "phantom-service"]
    duplicate = next(row for row in mine if row["rule"] == "duplicate-charge")
    assert duplicate["amount"] == "20.00"
    assert sorted(duplicate["claims"]) == sorted([planted["honest"], planted["again"]])
    assert " findings recorded, " in run.stderr
    csv_run = run_hub("insurance", "audit", "--date", "2026-03-01", "--dry-run", "--format", "csv")
    assert csv_run.returncode == 0, csv_run.stderr
    assert csv_run.stdout.splitlines()[0].startswith("finding,rule,severity,facility,patient")
    assert "recorded" not in csv_run.stderr
    bad = run_hub("insurance", "audit", "--date", "2026-13-01")
    assert bad.returncode == 2  # not a date: refused before anything runs
    before = run_hub("insurance", "audit", "--date", "2020-01-01")
    assert before.returncode == 1 and "no insurance policy version" in before.stderr
