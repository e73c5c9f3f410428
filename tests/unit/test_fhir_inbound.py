"""Qualifying a facility's local identifiers in FHIR writes (adapters/fhir_inbound), pure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.fhir_inbound import LocalRule, Qualifier, inbound_qualifier
from adapters.hl7v2.mappings import MappingContext, map_message
from adapters.hl7v2.parse import parse_message
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.fhir.systems import (
    FACILITY_CODE_SYSTEM,
    INSURANCE_PERSON_SYSTEM,
    RESIDENT_ID_SYSTEM,
    facility_identifier_system,
    facility_patient_system,
)
from hub.mpi.matching.identifiers import make_resident_id

HIS_MRN = "http://his.h001.example/mrn"
H001 = Qualifier(LocalRule("H001", frozenset({HIS_MRN})))
H002 = Qualifier(LocalRule("H002"))


def _patient(*identifiers: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Patient", "identifier": [dict(i) for i in identifiers]}


def _systems(resource: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(i.get("system"), i["value"]) for i in resource["identifier"]]


def test_a_number_without_system_gets_the_facility_patient_namespace() -> None:
    patient = H001.resource("Patient", _patient({"value": "MRN-1"}))
    assert _systems(patient) == [(facility_patient_system("H001"), "MRN-1")]
    assert patient["identifier"][0]["assigner"] == {
        "identifier": {"system": FACILITY_CODE_SYSTEM, "value": "H001"}
    }


def test_the_same_mrn_from_two_facilities_stays_two_identifiers() -> None:
    one = H001.resource("Patient", _patient({"value": "MRN-1"}))
    two = H002.resource("Patient", _patient({"value": "MRN-1"}))
    assert _systems(one) != _systems(two)
    assert _systems(two) == [(facility_patient_system("H002"), "MRN-1")]


def test_a_declared_local_system_is_qualified_and_other_systems_are_left_alone() -> None:
    resident = make_resident_id("420502", datetime(1980, 3, 2).date(), 1, "male")
    sent = [
        {"system": HIS_MRN, "value": "A-9"},
        {"system": RESIDENT_ID_SYSTEM, "value": resident},
        {"system": "urn:oid:1.2.156.1", "value": "X"},
        {"system": "urn:test:mrn", "value": "Y"},
        {"system": "http://other.example/mrn", "value": "Z"},
        {"system": facility_patient_system("H002"), "value": "W"},
    ]
    patient = H001.resource("Patient", _patient(*sent))
    assert patient["identifier"][0]["system"] == facility_patient_system("H001")
    assert patient["identifier"][1:] == sent[1:]
    # the declared system is H001's own: for H002 it is just another system
    assert H002.resource("Patient", _patient(sent[0]))["identifier"] == [sent[0]]


def test_typed_numbers_follow_the_v2_rules() -> None:
    resident = make_resident_id("420502", datetime(1990, 1, 1).date(), 7, "female")
    patient = H001.resource(
        "Patient",
        _patient(
            {"type": {"coding": [{"code": "MR"}]}, "value": "M-1"},
            {"type": {"coding": [{"code": "NI"}]}, "value": resident.lower()},
            {"type": {"text": "YB"}, "value": "INS-1"},
            {"type": {"coding": [{"code": "SS"}]}, "value": "S-1"},
            {"value": resident},  # untyped, shaped and checked like a resident ID
        ),
    )
    assert _systems(patient) == [
        (facility_patient_system("H001"), "M-1"),
        (RESIDENT_ID_SYSTEM, resident),
        (INSURANCE_PERSON_SYSTEM, "INS-1"),
        (facility_identifier_system("H001", "patient-ss"), "S-1"),
        (RESIDENT_ID_SYSTEM, resident),
    ]
    assert "assigner" not in patient["identifier"][1]


def test_other_types_get_their_kind_and_contained_and_logical_references_too() -> None:
    encounter = {
        "resourceType": "Encounter",
        "identifier": [{"value": "V-1"}],
        "contained": [{"resourceType": "Patient", "identifier": [{"value": "MRN-1"}]}],
        "subject": {"type": "Patient", "identifier": {"value": "MRN-1"}},
    }
    H001.resource("Encounter", encounter)
    assert encounter["identifier"][0]["system"] == facility_identifier_system("H001", "encounter")
    assert encounter["contained"][0]["identifier"][0]["system"] == facility_patient_system("H001")
    assert encounter["subject"]["identifier"]["system"] == facility_patient_system("H001")
    report = H001.resource("DiagnosticReport", {"identifier": [{"value": "R-1"}]})
    assert report["identifier"][0]["system"] == facility_identifier_system(
        "H001", "diagnostic-report"
    )


def test_criteria_by_local_number_are_qualified() -> None:
    ns = facility_patient_system("H001")
    assert H001.criteria("Patient", "identifier=MRN-1") == f"identifier={ns}|MRN-1"
    assert H001.criteria("Patient", "identifier=|MRN-1") == f"identifier={ns}|MRN-1"
    assert H001.criteria("Patient", f"Patient?identifier={HIS_MRN}|MRN-1") == (
        f"Patient?identifier={ns}|MRN-1"
    )
    assert H001.query("Patient", [("identifier", "A,urn:x|B"), ("gender", "male")]) == [
        ("identifier", f"{ns}|A,urn:x|B"),
        ("gender", "male"),
    ]
    assert H001.query("Observation", [("subject:Patient.identifier", "MRN-1")]) == [
        ("subject:Patient.identifier", f"{ns}|MRN-1")
    ]
    assert H001.query("Observation", [("patient.identifier", "MRN-1")]) == [
        ("patient.identifier", f"{ns}|MRN-1")
    ]
    untouched = f"identifier={RESIDENT_ID_SYSTEM}|420502198003020011&_id=x"
    assert H001.criteria("Patient", untouched) == untouched


def test_a_bundle_has_its_resources_conditional_urls_and_references_qualified() -> None:
    ns = facility_patient_system("H001")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:a",
                "resource": _patient({"value": "MRN-1"}),
                "request": {"method": "PUT", "url": "Patient?identifier=MRN-1"},
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "subject": {"reference": "Patient?identifier=MRN-1"},
                },
                "request": {"method": "POST", "url": "Observation", "ifNoneExist": "identifier=O"},
            },
            {"request": {"method": "DELETE", "url": "Patient?identifier=MRN-2"}},
            {"request": {"method": "GET", "url": "Patient?identifier=MRN-1"}},
        ],
    }
    entries = H001.bundle(bundle)["entry"]
    assert entries[0]["resource"]["identifier"][0]["system"] == ns
    assert entries[0]["request"]["url"] == f"Patient?identifier={ns}|MRN-1"
    assert entries[1]["resource"]["subject"]["reference"] == f"Patient?identifier={ns}|MRN-1"
    observation_ns = facility_identifier_system("H001", "observation")
    assert entries[1]["request"]["ifNoneExist"] == f"identifier={observation_ns}|O"
    assert entries[2]["request"]["url"] == f"Patient?identifier={ns}|MRN-2"
    assert entries[3]["request"]["url"] == "Patient?identifier=MRN-1"  # a search, as sent


def test_only_facility_systems_are_qualified() -> None:
    def actor(role: Role) -> Actor:
        return Actor.build(client_id="c", facility="H001", role=role, scope="system/*.cruds")

    assert inbound_qualifier(actor(Role.facility_system)).rule == LocalRule("H001")
    for role in (Role.practitioner, Role.operator, Role.patient):
        qualifier = inbound_qualifier(actor(role))
        patient = _patient({"value": "MRN-1"})
        assert qualifier.resource("Patient", patient)["identifier"] == [{"value": "MRN-1"}]
        assert qualifier.criteria("Patient", "identifier=MRN-1") == "identifier=MRN-1"


def test_the_v2_path_and_the_fhir_path_give_one_system_for_one_facility() -> None:
    raw = (
        "MSH|^~\\&|HIS|YC_H001|HUB|YICHANG|20261126101500||ADT^A04^ADT_A01|MSG1|P|2.5\r"
        "PID|1||MRN-7^^^YC_H001^MR||王^小明||19900101|M\r"
    )
    context = MappingContext("H001", datetime(2026, 11, 26, tzinfo=UTC), "H001/MSG1")
    mapped = map_message(parse_message(raw), context)
    v2_patient = next(
        e["resource"] for e in mapped.bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    fhir_patient = H001.resource("Patient", _patient({"value": "MRN-7"}))
    v2_ids = {(i["system"], i["value"]) for i in v2_patient["identifier"]}
    assert _systems(fhir_patient)[0] in v2_ids
    v2_put = next(e["request"] for e in mapped.bundle["entry"] if e["request"]["method"] == "PUT")
    fhir_put = H001.url("Patient?identifier=MRN-7")
    assert v2_put["url"].replace("%7C", "|") == fhir_put


def test_the_router_reaches_the_facility_rewrite_only_through_the_wiring() -> None:
    from hub.fhir import inbound

    facility = Actor.build(
        client_id="c", facility="H001", role=Role.facility_system, scope="system/*.cruds"
    )
    patient = _patient({"value": "MRN-1"})
    wired = inbound.inbound_qualifier(facility)  # the session's wire() installed the adapter's
    assert _systems(wired.resource("Patient", patient)) == [
        (facility_identifier_system("H001", "patient"), "MRN-1")
    ]
    installed = inbound._qualifier[0]
    inbound.set_inbound_qualifier(inbound._unchanged)
    try:
        unwired = inbound.inbound_qualifier(facility)
        assert unwired.resource("Patient", patient) is patient
        assert unwired.criteria("Patient", "identifier=MRN-1") == "identifier=MRN-1"
        assert unwired.query("Patient", [("identifier", "MRN-1")]) == [("identifier", "MRN-1")]
        assert unwired.bundle({"entry": []}) == {"entry": []}
    finally:
        inbound.set_inbound_qualifier(installed)
