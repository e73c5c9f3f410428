"""The search parameters generated from the official R4 definitions (hub/fhir/search/).

The data file must carry the official R4 (4.0.1) name, type, expression and targets; every
parameter the former hand-typed tables defined must still be served with the same type (and the
same paths and targets, but for the listed corrections); the translator, the generator and the
loader must refuse what they cannot handle with a clear message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from hub.fhir.registry import ParamType, SearchParam
from hub.fhir.search.definitions import (
    DATA_FILE,
    OfficialParam,
    build_resource_defs,
    load_official,
)
from hub.fhir.search.fhirpath import UntranslatableExpression, translate
from hub.fhir.search.hub_params import HAND_WRITTEN
from hub.fhir.search.served import SERVED_TYPES
from hub.fhir.search_parameters import RESOURCE_DEFS

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import gen_search_params  # noqa: E402

HAND_TYPED = json.loads((Path(__file__).parent / "data/search_params_hand_typed.json").read_text())

# Copied from the official R4 search-parameters.json (SearchParameter id in the comment); a
# shared expression keeps only the part about the type.
OFFICIAL_SAMPLE: list[tuple[str, str, str, str, tuple[str, ...]]] = [
    # Patient-birthdate
    ("Patient", "birthdate", "date", "Patient.birthDate", ()),
    # individual-phone
    ("Patient", "phone", "token", "Patient.telecom.where(system='phone')", ()),
    # clinical-patient
    ("Observation", "patient", "reference", "Observation.subject.where(resolve() is Patient)",
     ("Patient",)),
    # Observation-value-quantity
    ("Observation", "value-quantity", "quantity",
     "(Observation.value as Quantity) | (Observation.value as SampledData)", ()),
    # Observation-value-string
    ("Observation", "value-string", "string",
     "(Observation.value as string) | (Observation.value as CodeableConcept).text", ()),
    # Condition-onset-date
    ("Condition", "onset-date", "date",
     "Condition.onset.as(dateTime) | Condition.onset.as(Period)", ()),
    # Encounter-class
    ("Encounter", "class", "token", "Encounter.class", ()),
    # AuditEvent-agent
    ("AuditEvent", "agent", "reference", "AuditEvent.agent.who",
     ("Practitioner", "Organization", "Device", "Patient", "PractitionerRole", "RelatedPerson")),
    # Coverage-beneficiary
    ("Coverage", "beneficiary", "reference", "Coverage.beneficiary", ("Patient",)),
    # Task-owner
    ("Task", "owner", "reference", "Task.owner",
     ("Practitioner", "Organization", "CareTeam", "Device", "Patient", "HealthcareService",
      "PractitionerRole", "RelatedPerson")),
    # Appointment-actor
    ("Appointment", "actor", "reference", "Appointment.participant.actor",
     ("Practitioner", "Device", "Patient", "HealthcareService", "PractitionerRole",
      "RelatedPerson", "Location")),
    # Resource-lastUpdated
    ("Resource", "_lastUpdated", "date", "Resource.meta.lastUpdated", ()),
]  # fmt: skip

# Where the generated definitions deliberately differ from the hand-typed ones: the R4
# definition is followed. (type, parameter) -> what changed.
CORRECTED_FROM_R4: dict[tuple[str, str], dict[str, Any]] = {
    ("Observation", "value-string"): {"paths": ["valueString", "valueCodeableConcept.text"]},
    ("Observation", "encounter"): {"targets": ["Encounter", "EpisodeOfCare"]},
    ("DiagnosticReport", "encounter"): {"targets": ["Encounter", "EpisodeOfCare"]},
    ("ServiceRequest", "encounter"): {"targets": ["Encounter", "EpisodeOfCare"]},
}


def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return data


def test_data_file_says_where_it_came_from() -> None:
    data = _data()
    assert data["fhirVersion"] == "4.0.1"
    assert data["source"] == "http://hl7.org/fhir/R4/search-parameters.json"
    assert "scripts/gen_search_params.py" in data["_about"]
    assert set(data["resources"]) == {"Resource", *SERVED_TYPES}


@pytest.mark.parametrize(
    ("rtype", "name", "ptype", "expression", "targets"),
    OFFICIAL_SAMPLE,
    ids=[f"{s[0]}.{s[1]}" for s in OFFICIAL_SAMPLE],
)
def test_data_file_matches_official_sample(
    rtype: str, name: str, ptype: str, expression: str, targets: tuple[str, ...]
) -> None:
    entries = [e for e in _data()["resources"][rtype] if e["name"] == name]
    assert len(entries) == 1
    assert entries[0]["type"] == ptype
    assert entries[0]["expression"] == expression
    assert tuple(entries[0].get("targets", ())) == targets


@pytest.mark.parametrize("rtype", sorted(HAND_TYPED["resources"]))
def test_every_hand_typed_parameter_is_still_served(rtype: str) -> None:
    served = RESOURCE_DEFS[rtype].params
    for name, before in HAND_TYPED["resources"][rtype].items():
        param = served.get(name)
        assert param is not None, f"{rtype}.{name} is no longer served"
        assert str(param.type) == before["type"], f"{rtype}.{name} changed type"
        expected = {
            "paths": before["paths"],
            "targets": sorted(before.get("targets", [])),
            "absent": before.get("absent"),
            **CORRECTED_FROM_R4.get((rtype, name), {}),
        }
        now = {"paths": list(param.paths), "targets": sorted(param.targets), "absent": param.absent}
        assert now == expected, f"{rtype}.{name}"


def test_hand_written_entries_are_few_and_needed() -> None:
    official = load_official()
    for rtype, params in HAND_WRITTEN.items():
        names = {p.name for p in official[rtype]}
        for param in params:
            assert RESOURCE_DEFS[rtype].params[param.name] is param
            if param.name not in names:
                continue  # the hub's own parameter
            (entry,) = [p for p in official[rtype] if p.name == param.name]
            # An official parameter is hand-written only when its translation would differ.
            try:
                generated = translate(entry.expression, rtype)
            except UntranslatableExpression:
                continue
            assert generated != param.paths, f"{rtype}.{param.name} could be generated"


@pytest.mark.parametrize(
    ("expression", "paths"),
    [
        ("Patient.address.city", ("address.city",)),
        ("(Observation.value as Quantity)", ("valueQuantity",)),
        ("Condition.onset.as(dateTime) | Condition.onset.as(Period)",
         ("onsetDateTime", "onsetPeriod")),
        ("(Observation.value as CodeableConcept).text", ("valueCodeableConcept.text",)),
        ("Observation.subject.where(resolve() is Patient)", ("subject",)),
        ("Patient.telecom.where(system='phone')", ("telecom[system=phone]",)),
        ("Condition.onset.as(Age) | Condition.onset.as(Range)", ("onsetAge",)),
    ],
)  # fmt: skip
def test_translate(expression: str, paths: tuple[str, ...]) -> None:
    root = expression.lstrip("(").split(".")[0]
    assert translate(expression, root) == paths


@pytest.mark.parametrize(
    "expression",
    [
        "Patient.deceased.exists() and Patient.deceased != false",
        "Patient.extension('http://example.org/x')",
        "Encounter.subject",  # rooted at another type
        "Condition.onset.as(Range)",  # nothing the extractor can index
        "",
    ],
)
def test_translate_refuses(expression: str) -> None:
    with pytest.raises(UntranslatableExpression):
        translate(expression, "Patient" if "Condition" not in expression else "Condition")


def test_loader_refuses_an_untranslatable_official_parameter() -> None:
    official = load_official()
    broken = OfficialParam("alive", "token", "Slot.status.exists() and Slot.status != 'busy'")
    official["Slot"] = [*official["Slot"], broken]
    with pytest.raises(ValueError, match=r"Slot\.alive: .*hub\.fhir\.search\.hub_params"):
        build_resource_defs(official)


def test_loader_skips_types_the_engine_cannot_search() -> None:
    official = load_official()
    official["Slot"] = [*official["Slot"], OfficialParam("near", "special", "Slot.schedule")]
    _, defs = build_resource_defs(official)
    assert "near" not in defs["Slot"].params
    assert defs["Slot"].params["schedule"] == SearchParam(
        "schedule",
        ParamType.REFERENCE,
        ("schedule",),
        targets=("Schedule",),
        description="The Schedule Resource that we are seeking a slot within",
    )


def _bundle(*params: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "meta": {"lastUpdated": "2019-11-01T09:29:23.356+11:00"},
        "entry": [{"resource": {"resourceType": "SearchParameter", **p}} for p in params],
    }


def test_generator_keeps_each_types_part_and_drops_any_type_targets() -> None:
    shared = {
        "version": "4.0.1",
        "url": "http://hl7.org/fhir/SearchParameter/clinical-patient",
        "code": "patient",
        "type": "reference",
        "base": ["Observation", "Group", "Patient"],
        "expression": "Group.member | Observation.subject.where(resolve() is Patient)",
        "description": "Multiple Resources: \r\n\r\n* [Group](group.html): Member\r\n"
        "* [Observation](observation.html): The subject that the observation is about\r\n",
        "target": ["Patient"],
    }
    anything = {
        "version": "4.0.1",
        "url": "http://hl7.org/fhir/SearchParameter/Task-focus",
        "code": "focus",
        "type": "reference",
        "base": ["Task", "Patient"],
        "expression": "Task.focus",
        "description": "Any resource",
        "target": ["Observation", "Group", "Patient", "Task"],
    }
    data = gen_search_params.compact(_bundle(shared, anything))
    assert data["resources"]["Observation"] == [
        {
            "name": "patient",
            "type": "reference",
            "expression": "Observation.subject.where(resolve() is Patient)",
            "description": "The subject that the observation is about",
            "targets": ["Patient"],
        }
    ]
    assert data["resources"]["Task"][0]["name"] == "focus"
    assert "targets" not in data["resources"]["Task"][0]
    assert data["resources"]["Patient"] == []  # Group.member is not about a Patient


def test_generator_refuses_other_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "search-parameters.json"
    bundle.write_text(json.dumps(_bundle({"version": "5.0.0", "code": "x", "base": ["Patient"]})))
    assert gen_search_params.main(["gen", str(bundle)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"error: {bundle}: expected FHIR 4.0.1 definitions, found ['5.0.0']"
    assert gen_search_params.main(["gen", str(tmp_path / "missing.json")]) == 1
    assert "cannot read" in capsys.readouterr().err
    bundle.write_text("{not json")
    assert gen_search_params.main(["gen", str(bundle)]) == 1
    assert "Traceback" not in capsys.readouterr().err
