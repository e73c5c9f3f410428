"""A patient's summary for a doctor, under the consent decision: each section lists what the
doctor may see and says when the patient's consent withheld some of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.console.queries.doctor import concept_text, person_name, withheld
from hub.fhir.store import FhirStore

SECTION_SIZE = 20
# (resource type, sort, what a row shows: the concept element, the date element)
SECTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("Condition", "-recorded-date", "code", "recordedDate"),
    ("MedicationRequest", "-authoredon", "medicationCodeableConcept", "authoredOn"),
    ("Observation", "-date", "code", "effectiveDateTime"),
    ("Encounter", "-date", "type", "period"),
    ("DiagnosticReport", "-issued", "code", "issued"),
)


@dataclass(frozen=True)
class Entry:
    reference: str
    what: str
    when: str
    value: str = ""


@dataclass
class Section:
    resource_type: str
    entries: list[Entry] = field(default_factory=list)
    withheld: bool = False  # consent left some of the patient's records out


@dataclass
class Summary:
    patient_id: str
    name: str
    gender: str
    birth_date: str
    sections: list[Section]


def _when(value: Any) -> str:
    if isinstance(value, dict):  # a Period
        value = value.get("start") or value.get("end")
    return str(value or "")[:10]


def _value(body: dict[str, Any]) -> str:
    quantity = body.get("valueQuantity")
    if isinstance(quantity, dict) and "value" in quantity:
        return f"{quantity['value']} {quantity.get('unit', '')}".strip()
    return str(body.get("valueString", ""))


def _entry(body: dict[str, Any], concept: str, when: str) -> Entry:
    value = body.get(concept)
    if isinstance(value, list):  # Encounter.type is a list
        value = value[0] if value else None
    return Entry(
        f"{body['resourceType']}/{body['id']}",
        concept_text(value) or "-",
        _when(body.get(when)),
        _value(body),
    )


def patient_summary(store: FhirStore, patient_id: str) -> Summary:
    """The patient (refused as the API refuses it when consent withholds the whole record) and
    the latest entries of each section."""
    patient = store.read("Patient", patient_id).as_dict()
    sections = []
    for resource_type, sort, concept, when in SECTIONS:
        query = [("patient", f"Patient/{patient_id}"), ("_sort", sort),
                 ("_count", str(SECTION_SIZE))]  # fmt: skip
        found = store.search(resource_type, query)
        entries = [_entry(r.as_dict(), concept, when) for r in found.matches]
        sections.append(Section(resource_type, entries, withheld(store)))
    return Summary(
        patient_id,
        person_name(patient),
        str(patient.get("gender", "")),
        str(patient.get("birthDate", "")),
        sections,
    )
