"""Three-way matching (claim, prescription, dispense): each leg's finding, hit and near miss;
the prescription view from what the HL7 RDE/RDS mappings fill; the switch that keeps facilities
without prescriptions quiet; a finding's closing when later data disproves it."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.hl7v2.mappings import map_message
from adapters.hl7v2.mappings.context import MappingContext
from insurance.claims_audit.codes import RuleCode, Severity
from insurance.claims_audit.detected_issue import (
    detected_issue,
    disproved,
    rests_on_absence,
)
from insurance.claims_audit.engine import run_rules
from insurance.claims_audit.fhir_view import dispense_view, prescription_view
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.params import PrescriptionMatchParams
from insurance.claims_audit.view import AuditData, Claim, Dispense, Encounter, Line, Prescription
from insurance.policy import PolicyVersion, load_policy
from tests import hl7v2_cases as cases

DAY = date(2026, 3, 1)
BASE = load_policy().on(DAY)
AMOXICILLIN, ENALAPRIL, METFORMIN = (
    "XJ01CAA040A001010100001",
    "XC09AAE056A001010100002",
    "XA10BAD001A001010100003",
)
CONSULT = "001102000000100"
THREE_WAY = (RuleCode.PHANTOM_SERVICE, RuleCode.ITEM_SWAP, RuleCode.EXCESS_QUANTITY)


def policy(**match: Any) -> PolicyVersion:
    assert BASE.claims_audit is not None
    settings = {"enabled": True, "facilities": ("H001",), **match}
    params = BASE.claims_audit.model_copy(
        update={"prescription_match": PrescriptionMatchParams(**settings)}
    )
    return BASE.model_copy(update={"claims_audit": params})


MATCHING = policy()


def bill(*lines: tuple[str, int, int], facility: str = "H001", cid: str = "C1") -> Claim:
    """A claim for Encounter E1: (code, quantity, unit price in fen) per line."""
    items = tuple(
        Line(n, code, qty, price, DAY, encounter="E1")
        for n, (code, qty, price) in enumerate(lines, start=1)
    )
    return Claim(cid, "P1", facility, DAY, items)


def rx(pid: str, code: str, *, status: str = "active", qty: int | None = 20, repeats: int = 0,
       authored: date = DAY, until: date | None = None, enc: str = "E1"
       ) -> Prescription:  # fmt: skip
    return Prescription(pid, "P1", "H001", code, status, qty, repeats, 7, enc, authored, until)


def given(did: str, code: str, *, qty: int = 20, day: date = DAY, names: tuple[str, ...] = ()
          ) -> Dispense:  # fmt: skip
    return Dispense(did, "P1", "H001", code, qty, day, 7, "E1", names)


VISIT = Encounter("E1", "P1", "H001", datetime(2026, 3, 1, 9, tzinfo=UTC))


def data(claim: Claim, prescriptions: tuple[Prescription, ...] = (),
         dispenses: tuple[Dispense, ...] = ()) -> AuditData:  # fmt: skip
    return AuditData(
        claims=(claim,), encounters=(VISIT,), dispenses=dispenses, prescriptions=prescriptions
    )


def found(audit: AuditData, chosen: PolicyVersion = MATCHING) -> list[Finding]:
    return run_rules(audit, chosen, only=THREE_WAY)


def basis(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.rule, f.basis) for f in findings}


# -- the prescription leg: no standing prescription -------------------------------------------


def test_a_drug_billed_for_a_visit_with_no_prescription() -> None:
    audit = data(bill((AMOXICILLIN, 20, 35), (CONSULT, 1, 1000)), (), (given("D1", AMOXICILLIN),))
    [finding] = found(audit)
    assert (finding.rule, finding.basis) == ("phantom-service", "no prescription E1")
    assert finding.amount_fen == 700 and finding.severity is Severity.MODERATE
    assert finding.claims == ("C1",) and finding.encounters == ("E1",)
    assert finding.dispenses == () and finding.absence  # a late dispense keeps it one finding
    assert finding.detail.startswith("prescription leg: ")


def test_only_a_cancelled_prescription_is_no_prescription_and_is_named() -> None:
    cancelled = rx("R1", AMOXICILLIN, status="cancelled")
    [finding] = found(data(bill((AMOXICILLIN, 20, 35)), (cancelled,), (given("D1", AMOXICILLIN),)))
    assert finding.basis == "no prescription E1" and finding.prescriptions == ("R1",)
    assert "MedicationRequest/R1" in finding.detail and "cancelled" in finding.detail


def test_a_prescribed_and_dispensed_drug_is_no_finding() -> None:
    audit = data(bill((AMOXICILLIN, 20, 35)), (rx("R1", AMOXICILLIN),), (given("D1", AMOXICILLIN),))
    assert found(audit) == []


@pytest.mark.parametrize(
    "chosen",
    [policy(enabled=False), policy(facilities=("H002",)), BASE],
    ids=["switched-off", "facility-not-listed", "sample-policy"],
)
def test_facilities_the_policy_does_not_match_are_not_flooded(chosen: PolicyVersion) -> None:
    """A facility that sends no prescriptions: the same bill as above finds nothing new."""
    audit = data(bill((AMOXICILLIN, 20, 35)), (), (given("D1", AMOXICILLIN),))
    assert found(audit, chosen) == []


def test_an_empty_facility_list_matches_every_facility() -> None:
    audit = data(bill((AMOXICILLIN, 20, 35), facility="H009"), (), (given("D1", AMOXICILLIN),))
    assert basis(found(audit, policy(facilities=()))) == {("phantom-service", "no prescription E1")}


# -- the dispense leg: on a prescription not in force ---------------------------------------


def test_dispensed_on_an_expired_prescription() -> None:
    old = rx("R1", AMOXICILLIN, authored=DAY - timedelta(days=3))  # valid 3 days: to DAY - 1
    [finding] = found(data(bill((AMOXICILLIN, 20, 35)), (old,), (given("D1", AMOXICILLIN),)))
    assert finding.rule == "phantom-service" and finding.basis.startswith("unauthorised dispense")
    assert finding.severity is Severity.HIGH and finding.amount_fen == 700
    assert (finding.dispenses, finding.prescriptions) == (("D1",), ("R1",))
    assert "dispense leg" in finding.detail and "valid 3 days" in finding.detail


def test_dispensed_on_the_last_valid_day_or_within_a_validity_period_is_no_finding() -> None:
    last_day = rx("R1", AMOXICILLIN, authored=DAY - timedelta(days=2))
    assert found(data(bill((AMOXICILLIN, 20, 35)), (last_day,), (given("D1", AMOXICILLIN),))) == []
    longer = rx("R1", AMOXICILLIN, authored=DAY - timedelta(days=20), until=DAY)
    assert found(data(bill((AMOXICILLIN, 20, 35)), (longer,), (given("D1", AMOXICILLIN),))) == []
    stricter = policy(valid_days=1)
    assert found(data(bill((AMOXICILLIN, 20, 35)), (last_day,), (given("D1", AMOXICILLIN),)),
                 stricter)  # fmt: skip


def test_dispensed_on_a_cancelled_prescription_while_another_drug_stands() -> None:
    """One finding for the line: the dispense leg's, not also "not prescribed"."""
    prescriptions = (rx("R1", ENALAPRIL), rx("R2", AMOXICILLIN, status="cancelled"))
    audit = data(bill((AMOXICILLIN, 20, 35)), prescriptions, (given("D1", AMOXICILLIN),))
    [finding] = found(audit)
    assert finding.rule == "phantom-service" and finding.basis.startswith("unauthorised dispense")
    assert finding.prescriptions == ("R2",) and "cancelled" in finding.detail


def test_a_dispense_names_its_prescription_from_another_visit() -> None:
    """authorizingPrescription reaches a prescription written for another encounter."""
    elsewhere = rx("R9", AMOXICILLIN, enc="E0", authored=DAY - timedelta(days=1))
    audit = data(
        bill((AMOXICILLIN, 20, 35)), (elsewhere,), (given("D1", AMOXICILLIN, names=("R9",)),)
    )
    assert audit.prescriptions_of("E1") == (elsewhere,)
    assert found(audit) == []


# -- item-swap: billed drug not the prescribed one ------------------------------------------


def test_dispensed_as_billed_but_prescribed_another_drug() -> None:
    audit = data(bill((AMOXICILLIN, 20, 35)), (rx("R1", ENALAPRIL),), (given("D1", AMOXICILLIN),))
    [finding] = found(audit)
    assert (finding.rule, finding.basis) == ("item-swap", f"not prescribed {AMOXICILLIN} seq 1")
    assert finding.prescriptions == ("R1",) and finding.dispenses == ("D1",)
    assert "dispensed as billed" in finding.detail and finding.amount_fen == 700


def test_billed_prescribed_and_dispensed_all_differ() -> None:
    audit = data(bill((AMOXICILLIN, 20, 35)), (rx("R1", ENALAPRIL),), (given("D1", METFORMIN),))
    findings = found(audit)
    swap = next(f for f in findings if f.basis.startswith("not prescribed"))
    assert "matching neither" in swap.detail and swap.dispenses == ("D1",)
    # and the dispense comparison reports its own leg, as before
    assert ("item-swap", f"billed {AMOXICILLIN} seq 1") in basis(findings)


def test_prescription_and_dispense_agree_the_bill_alone_differs() -> None:
    """Billed A, prescribed and dispensed B: the dispense comparison's finding, not a second."""
    audit = data(bill((AMOXICILLIN, 20, 35)), (rx("R1", ENALAPRIL),), (given("D1", ENALAPRIL),))
    assert basis(found(audit)) == {("item-swap", f"billed {AMOXICILLIN} seq 1")}


def test_billed_another_drug_than_prescribed_and_nothing_dispensed() -> None:
    findings = found(data(bill((AMOXICILLIN, 20, 35)), (rx("R1", ENALAPRIL),)))
    assert basis(findings) == {
        ("item-swap", f"not prescribed {AMOXICILLIN} seq 1"),
        ("phantom-service", "no dispense E1"),  # the dispense leg, as before
    }
    swap = next(f for f in findings if f.rule == "item-swap")
    assert "nothing dispensed" in swap.detail and swap.dispenses == ()


# -- excess-quantity: billed beyond prescribed or dispensed ---------------------------------


def test_billed_beyond_the_prescription() -> None:
    audit = data(bill((AMOXICILLIN, 30, 35)), (rx("R1", AMOXICILLIN, qty=20),),
                 (given("D1", AMOXICILLIN, qty=20),))  # fmt: skip
    [finding] = found(audit)
    assert (finding.rule, finding.basis) == (
        "excess-quantity",
        f"beyond prescribed {AMOXICILLIN} E1",
    )
    assert finding.amount_fen == 350  # 10 of 30 units of 1050 fen
    assert "10 units beyond the dispensed quantity" in finding.detail
    assert (finding.prescriptions, finding.dispenses) == (("R1",), ("D1",))


def test_billed_beyond_the_dispensed_within_the_prescription() -> None:
    audit = data(bill((AMOXICILLIN, 20, 35)), (rx("R1", AMOXICILLIN, qty=20),),
                 (given("D1", AMOXICILLIN, qty=12),))  # fmt: skip
    [finding] = found(audit)
    assert "8 units beyond the dispensed quantity" in finding.detail and finding.amount_fen == 280


def test_two_lines_of_one_visit_count_together() -> None:
    audit = data(bill((AMOXICILLIN, 12, 35), (AMOXICILLIN, 12, 35)),
                 (rx("R1", AMOXICILLIN, qty=20),), (given("D1", AMOXICILLIN, qty=24),))  # fmt: skip
    [finding] = found(audit)
    assert "4 units beyond the prescribed quantity" in finding.detail and finding.amount_fen == 140


@pytest.mark.parametrize(
    ("billed", "prescribed", "repeats", "tolerance"),
    [(20, 20, 0, 0), (20, 10, 1, 0), (22, 20, 0, 2)],
    ids=["as-prescribed", "with-a-repeat", "within-tolerance"],
)
def test_quantity_near_misses(billed: int, prescribed: int, repeats: int, tolerance: int) -> None:
    audit = data(bill((AMOXICILLIN, billed, 35)),
                 (rx("R1", AMOXICILLIN, qty=prescribed, repeats=repeats),),
                 (given("D1", AMOXICILLIN, qty=billed),))  # fmt: skip
    assert found(audit, policy(quantity_tolerance=tolerance)) == []


def test_a_prescription_naming_no_quantity_is_not_compared() -> None:
    audit = data(bill((AMOXICILLIN, 99, 35)), (rx("R1", AMOXICILLIN, qty=None),),
                 (given("D1", AMOXICILLIN, qty=99),))  # fmt: skip
    assert found(audit) == []


# -- parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [{"valid_days": 0}, {"quantity_tolerance": -1}, {"valid_days": 31}])
def test_bad_parameters_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        PrescriptionMatchParams(enabled=True, **bad)  # type: ignore[arg-type]


# -- the view from what the feeds fill ------------------------------------------------------


def _mapped(raw: bytes) -> dict[str, Any]:
    """The Medication* resource an HL7 v2 message maps to, its bundle references resolved as
    the store resolves them (Patient/P1, Encounter/E1)."""
    context = MappingContext(cases.FACILITY, datetime(2024, 3, 15, 1, tzinfo=UTC), "inbox-1")
    bundle = map_message(cases.parse(raw), context).bundle
    urls = {e["fullUrl"]: e["resource"]["resourceType"] for e in bundle["entry"]}
    text = json.dumps(bundle)
    for url, kind in urls.items():
        text = text.replace(
            url, {"Patient": "Patient/P1", "Encounter": "Encounter/E1"}.get(kind, url)
        )
    found = [e["resource"] for e in json.loads(text)["entry"]]
    return next(r for r in found if r["resourceType"].startswith("Medication"))


PV1 = f"PV1|1|O|内科门诊^201^1^{cases.FACILITY}||||D001^李^医生|||MED||||1|||||V20240315001"
DRUG = f"{AMOXICILLIN}^阿莫西林胶囊^L"


def test_an_rde_prescription_and_its_rds_dispense_meet_on_the_encounter() -> None:
    rde = cases.encode([
        cases.msh("RDE^O11", "RDE-1", structure="RDE_O11"), cases.pid(), PV1,
        "ORC|NW|P0001|RX0001||IP||||20240315093000|||D001^李^医生",
        cases.seg("RXE", {2: DRUG, 3: "0.5", 5: "g", 10: "24", 11: "粒", 12: "1"}),
    ])  # fmt: skip
    rds = cases.encode([
        cases.msh("RDS^O13", "RDS-1", structure="RDS_O13"), cases.pid(), PV1,
        "ORC|RE|P0001|RX0001||CM",
        cases.seg("RXD", {1: "1", 2: DRUG, 3: "20240315100000", 4: "24", 5: "粒", 7: "RX0001"}),
    ])  # fmt: skip
    request = prescription_view(dict(_mapped(rde), id="R1"))
    assert request is not None
    assert (request.code, request.quantity, request.repeats, request.allowed) == (
        AMOXICILLIN, 24, 1, 48)  # fmt: skip
    assert (request.person, request.encounter, request.status) == ("P1", "E1", "active")
    assert request.authored == date(2024, 3, 15)
    dispensed = dispense_view(dict(_mapped(rds), id="D1"))
    assert dispensed is not None and dispensed.encounter == "E1" and dispensed.prescriptions == ()


def test_a_fhir_prescription_with_supply_duration_and_validity() -> None:
    request = {
        "resourceType": "MedicationRequest", "id": "R1", "status": "cancelled",
        "medicationCodeableConcept": {"coding": [{"system": "urn:x", "code": AMOXICILLIN}]},
        "subject": {"reference": "Patient/P1"}, "encounter": {"reference": "Encounter/E1"},
        "requester": {"reference": "Organization/H003"}, "authoredOn": "2026-03-01",
        "dispenseRequest": {"quantity": {"value": 20}, "expectedSupplyDuration": {
            "value": 10, "unit": "days", "code": "d"}, "validityPeriod": {"end": "2026-03-05"}},
    }  # fmt: skip
    view = prescription_view(request)
    assert view is not None and view.facility == "H003" and view.days_supply == 10
    assert view.valid_until == date(2026, 3, 5) and view.status == "cancelled"
    assert prescription_view(dict(request, medicationCodeableConcept={"text": "x"})) is None
    dispense = {
        "id": "D1", "subject": {"reference": "Patient/P1"}, "whenHandedOver": "2026-03-01",
        "medicationCodeableConcept": request["medicationCodeableConcept"],
        "authorizingPrescription": [{"reference": "MedicationRequest/R1"}],
    }  # fmt: skip
    assert dispense_view(dispense) == Dispense("D1", "P1", "", AMOXICILLIN, 0, DAY,
                                               prescriptions=("R1",))  # fmt: skip


# -- findings as FHIR: evidence and the hub's closing --------------------------------------


def test_a_finding_without_prescriptions_keeps_its_key() -> None:
    """Keys written before prescriptions existed are found again (no duplicate finding)."""
    plain = Finding(RuleCode.PHANTOM_SERVICE, Severity.HIGH, "H001", "P1", DAY, 0, "x",
                    "no encounter", claims=("C1",))  # fmt: skip
    text = "\n".join(("phantom-service", "C1", "", "", "no encounter"))
    assert plain.key == hashlib.sha256(text.encode()).hexdigest()[:40]
    named = Finding(RuleCode.PHANTOM_SERVICE, Severity.HIGH, "H001", "P1", DAY, 0, "x",
                    "no encounter", claims=("C1",), prescriptions=("R1",))  # fmt: skip
    assert named.key != plain.key


def test_an_absence_finding_is_marked_and_the_hub_closes_it_with_a_note() -> None:
    findings = found(data(bill((AMOXICILLIN, 20, 35)), (rx("R1", ENALAPRIL),)))
    finding = next(f for f in findings if f.rule == "item-swap")
    issue = detected_issue(finding, datetime(2026, 3, 1, 12, tzinfo=UTC))
    assert {"reference": "MedicationRequest/R1"} in issue["implicated"]
    assert rests_on_absence(issue)
    closed = disproved(issue, "a later dispense", datetime(2026, 3, 2, tzinfo=UTC))
    assert closed["status"] == "cancelled" and not rests_on_absence(closed)
    [note] = closed["mitigation"]
    assert note["action"]["text"] == "a later dispense"
    assert note["action"]["coding"][0]["code"] == "disproved-by-later-data"
    kept = Finding(RuleCode.DUPLICATE_CHARGE, Severity.HIGH, "H001", "P1", DAY, 0, "x", "b")
    assert not rests_on_absence(detected_issue(kept, datetime(2026, 3, 1, tzinfo=UTC)))
