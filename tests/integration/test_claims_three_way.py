"""Three-way matching through the store and the queue: a claim settled through the hub's
settlement path before its visit's dispense and prescription arrived (the pharmacy's feed lags
the cashier's); each late record enqueues the claim again and the re-run closes the finding it
disproves, leaving the others open. SQLite by default, PostgreSQL with HUB_TEST_DATABASE_URL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from hub.auth.actor import Actor
from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.db import session_scope
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import get_settings
from hub.work_queues import install_dispatcher
from insurance.claims_audit import service
from insurance.claims_audit.codes import RuleCode
from insurance.claims_audit.detected_issue import DISPROVED, Outcome, Review
from insurance.claims_audit.models import PendingAuditRow
from insurance.claims_audit.params import PrescriptionMatchParams
from insurance.claims_audit.queue import QUEUE, drain_facility
from insurance.claims_audit.service import CLAIMS_AUDIT_ACTOR
from insurance.policy import Policy, PolicyVersion, Scheme, load_policy
from insurance.resources import coverage_resource
from insurance.settlement.service import settle
from tests.integration.test_insurance_settlement import _claim as settlement_claim

AMOXICILLIN = "XJ01CAA040A001010100001"
FACILITY = "H001"
AUDITOR = Actor.build(
    client_id="auditor-1", facility="YB420500", role=Role.insurance_auditor,
    scope=DEFAULT_SCOPES[Role.insurance_auditor], purpose_of_use="HPAYMT",
)  # fmt: skip
CASHIER = Actor.build(
    client_id="his-h001", facility=FACILITY, role=Role.facility_system,
    scope=DEFAULT_SCOPES[Role.facility_system], purpose_of_use="HPAYMT",
)  # fmt: skip


def _matching(version: PolicyVersion, enabled: bool) -> PolicyVersion:
    params = version.claims_audit
    assert params is not None
    switch = PrescriptionMatchParams(enabled=enabled, facilities=(FACILITY,))
    return version.model_copy(
        update={"claims_audit": params.model_copy(update={"prescription_match": switch})}
    )


def matching_policy() -> Policy:
    """The SAMPLE policy with prescription matching on for H001."""
    sample = load_policy()
    return sample.model_copy(
        update={"versions": tuple(_matching(v, True) for v in sample.versions)}
    )


class Woken:
    """Records the queue's wake-ups instead of draining: the test drains, as the task would."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def notify(self, keys: Iterable[str]) -> None:
        self.keys.extend(keys)

    def close(self) -> None:
        pass


@pytest.fixture
def woken(database: str) -> Iterator[Woken]:
    recorder = Woken()
    previous = install_dispatcher(QUEUE, recorder)
    if previous is not None:
        previous.close()
    yield recorder
    install_dispatcher(QUEUE, None)


@pytest.fixture
def matching(monkeypatch: pytest.MonkeyPatch, woken: Woken) -> Iterator[Woken]:
    policy = matching_policy()
    monkeypatch.setattr(service, "configured_policy", lambda: policy)
    yield woken


def _as(actor: Actor, work: Callable[[FhirStore], Any]) -> Any:
    with session_scope() as session:
        return work(FhirStore(session, actor, get_cipher(), get_settings().fhir_base_url))


def _visit(store: FhirStore) -> tuple[str, str, str]:
    patient = store.create(
        "Patient", {"resourceType": "Patient", "name": [{"family": "稽核", "given": ["三方"]}]}
    ).resource_id
    coverage = store.create(
        "Coverage", coverage_resource(patient, Scheme.UEBMI, "420502", 0, uuid.uuid4().hex)
    ).resource_id
    return patient, coverage, _visit_of(store, patient)


def _visit_of(store: FhirStore, patient: str) -> str:
    return store.create(
        "Encounter",
        {
            "resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
            "subject": {"reference": f"Patient/{patient}"},
            "serviceProvider": {"reference": f"Organization/{FACILITY}"},
            "period": {"start": "2026-03-01T09:00:00+08:00", "end": "2026-03-01T09:30:00+08:00"},
        },
    ).resource_id  # fmt: skip


def _drug(patient: str) -> dict[str, Any]:
    return {
        "medicationCodeableConcept": {"coding": [{"code": AMOXICILLIN}]},
        "subject": {"reference": f"Patient/{patient}"},
    }


def _open_findings(claim: str) -> dict[str, dict[str, Any]]:
    """The claim's findings by their basis word (phantom-service's detail), any status."""
    query = [("implicated", f"Claim/{claim}"), ("_count", "100")]
    found = _as(
        CLAIMS_AUDIT_ACTOR,
        lambda s: [m.as_dict() for m in s.search("DetectedIssue", query).matches],
    )
    # The manual-review sample draws a random claim id now and then: not a finding of matching.
    return {str(f["detail"]): f for f in found if not _sampled(f)}


def _sampled(issue: dict[str, Any]) -> bool:
    codes = [c.get("code") for c in (issue.get("code") or {}).get("coding") or []]
    return RuleCode.MANUAL_REVIEW_SAMPLE in codes


def _settled_visit() -> tuple[str, str, str]:
    """(patient, encounter, claim): amoxicillin billed for a visit, settled by H001's cashier
    through the hub's settlement path, before any prescription or dispense arrived."""
    patient, coverage, encounter = _as(CASHIER, _visit)
    claim = settlement_claim(patient, coverage, "claim", [(AMOXICILLIN, 20, 0.35)])
    claim["item"][0]["encounter"] = [{"reference": f"Encounter/{encounter}"}]
    answer = _as(CASHIER, lambda store: settle(store, claim).response)
    return patient, encounter, str(answer["request"]["reference"]).removeprefix("Claim/")


def _late_dispense(patient: str, encounter: str, prescription: str = "") -> str:
    """The pharmacy's dispense for the visit (as RDS maps the HIS's own: no prescription named,
    unless ``prescription``)."""
    late = dict(_drug(patient), resourceType="MedicationDispense", status="completed",
                context={"reference": f"Encounter/{encounter}"}, quantity={"value": 20},
                whenHandedOver="2026-03-01T10:00:00+08:00")  # fmt: skip
    if prescription:
        late["authorizingPrescription"] = [{"reference": f"MedicationRequest/{prescription}"}]
    return str(_as(CASHIER, lambda store: store.create("MedicationDispense", late).resource_id))


def _late_prescription(patient: str, encounter: str) -> None:
    request = dict(_drug(patient), resourceType="MedicationRequest", status="active",
                   intent="order", encounter={"reference": f"Encounter/{encounter}"},
                   authoredOn="2026-03-01T09:20:00+08:00",
                   dispenseRequest={"quantity": {"value": 20}})  # fmt: skip
    _as(CASHIER, lambda store: store.create("MedicationRequest", request))


def _pending() -> set[str]:
    with session_scope() as session:
        return set(session.scalars(select(PendingAuditRow.claim_id)))


def test_a_late_dispense_and_prescription_close_what_they_disprove(matching: Woken) -> None:
    patient, encounter, claim_id = _settled_visit()
    assert claim_id in _pending()  # enqueued by the settlement, in its transaction

    drain_facility(FACILITY)  # the task after the commit
    first = _open_findings(claim_id)
    assert {f["status"] for f in first.values()} == {"preliminary"}
    no_dispense = next(f for d, f in first.items() if "which has no dispense" in d)
    no_prescription = next(f for d, f in first.items() if "no standing prescription" in d)
    assert len(first) == 2
    assert {"reference": f"Encounter/{encounter}"} in no_prescription["implicated"]

    # the pharmacy's RDS arrives: a dispense for the visit (the HIS's own, naming no prescription)
    dispense_id = _late_dispense(patient, encounter)
    assert claim_id in _pending()  # the late record enqueued the settled claim again
    assert matching.keys == [FACILITY, FACILITY]  # and woke its facility's task after commit
    drain_facility(FACILITY)
    second = {f["id"]: f for f in _open_findings(claim_id).values()}
    closed = second[no_dispense["id"]]
    assert closed["status"] == "cancelled"
    [note] = closed["mitigation"]
    assert note["action"]["coding"][0]["code"] == DISPROVED
    assert f"Claim/{claim_id}" in note["action"]["text"]
    assert second[no_prescription["id"]]["status"] == "preliminary"  # still no prescription
    assert len(second) == 2  # the dispense raised nothing new
    _, versions = _as(CLAIMS_AUDIT_ACTOR, lambda s: s.history("DetectedIssue", no_dispense["id"]))
    assert versions == 2  # found, then closed by the hub: each a version

    # the prescription arrives last: it disproves the other finding
    _late_prescription(patient, encounter)
    drain_facility(FACILITY)
    third = {f["id"]: f for f in _open_findings(claim_id).values()}
    assert {f["status"] for f in third.values()} == {"cancelled"} and len(third) == 2
    assert dispense_id and claim_id not in _pending()


def test_an_auditors_decision_is_never_overturned_by_late_data(matching: Woken) -> None:
    """A finding already reviewed stays as the auditor left it; only open ones are closed."""
    patient, encounter, claim_id = _settled_visit()
    drain_facility(FACILITY)
    no_dispense = next(f for d, f in _open_findings(claim_id).items() if "no dispense" in d)
    review = Review(Outcome.CONFIRMED, "no dispense on the day of the visit", 700, "auditor-1")
    _as(AUDITOR, lambda s: service.review_finding(s, no_dispense["id"], review))
    _late_dispense(patient, encounter)
    drain_facility(FACILITY)
    assert _open_findings(claim_id)[no_dispense["detail"]]["status"] == "final"


def test_without_the_switch_a_claim_finds_no_prescription_leg(woken: Woken) -> None:
    """The SAMPLE policy (matching off): the same settlement finds only what it found before."""
    *_, claim_id = _settled_visit()
    drain_facility(FACILITY)
    [detail] = _open_findings(claim_id)
    assert "which has no dispense" in detail


def test_matching_on_the_claims_day_loads_prescriptions_whatever_today_says(
    monkeypatch: pytest.MonkeyPatch, woken: Woken
) -> None:
    """A later version (in force today) turns matching off; the claim's day had it on: the
    incremental audit still loads the visit's prescription, so it finds nothing."""
    sample = matching_policy()
    later = _matching(sample.versions[-1], False).model_copy(
        update={"version": "LATER", "effective_from": date(2026, 6, 1)}
    )
    policy = sample.model_copy(update={"versions": (*sample.versions, later)})
    monkeypatch.setattr(service, "configured_policy", lambda: policy)
    patient, encounter, claim_id = _settled_visit()
    _late_dispense(patient, encounter)
    _late_prescription(patient, encounter)
    drain_facility(FACILITY)
    assert _open_findings(claim_id) == {}


def test_a_dispense_naming_another_visits_prescription_is_matched(matching: Woken) -> None:
    """The prescription was written at an earlier visit (no authoredOn, as an RDE without
    ORC-9) and the dispense names it: loaded by that reference, it covers the billed drug."""
    patient, encounter, claim_id = _settled_visit()
    earlier = _as(CASHIER, lambda store: _visit_of(store, patient))
    request = dict(_drug(patient), resourceType="MedicationRequest", status="active",
                   intent="order", encounter={"reference": f"Encounter/{earlier}"},
                   dispenseRequest={"quantity": {"value": 20}})  # fmt: skip
    prescription = _as(CASHIER, lambda store: store.create("MedicationRequest", request))
    _late_dispense(patient, encounter, prescription.resource_id)
    drain_facility(FACILITY)
    assert _open_findings(claim_id) == {}
