"""ADT: Patient (with NK1 contacts), Encounter from PV1, Coverage from IN1; merges and unlinks.

Visit events write the Encounter identified by PV1-19 (else PV1-50). Without a visit number
an event that opens a visit (A01, A04, A05, A14) keys it by the message control id; one that
acts on an existing visit (A02, A03, A06, A07, A08, A11, A13, A38) cannot say which, and writes
only the Patient.

Encounter.status follows the HL7 v2-to-FHIR IG's map of table 0003 (ConceptMap
table-hl70003-to-encounter-status) where it lists the event; for the events it leaves out, the
nearest listed one: A14 (pending admit) is planned like A05, A38 (cancel pre-admit) cancelled
like A11, A06 and A07 (outpatient to inpatient and back) in-progress, the class then read from
PV1-2 of the same visit as for every event.

Merges (A34, A40, A47) write the surviving Patient as usual and the retired one, conditional
on its old identifier (MRG-1), as ``active: false`` with a ``replaced-by`` link; the patient
index follows the links. A37 writes both Patients and asks the index to unlink them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.hl7v2.errors import ErrorCode
from adapters.hl7v2.mappings.common import V2, content_error, cwe, encounter_class, table_concept
from adapters.hl7v2.mappings.context import (
    BundleBuilder,
    Identifier,
    IndexOperation,
    Mapped,
    MappingContext,
    Resource,
    full_url,
    reference,
)
from adapters.hl7v2.mappings.datetimes import to_date, to_datetime
from adapters.hl7v2.mappings.demographics import addresses, name_text, names, telecoms
from adapters.hl7v2.mappings.patient import (
    add_patient,
    cx_identifiers,
    patient_resource,
    required_pid,
    write_key,
)
from adapters.hl7v2.parse import Message, Segment
from hub.fhir.systems import (
    INSURANCE_PERSON_SYSTEM,
    facility_identifier_system,
    facility_patient_system,
)

# Encounter.status by event; None: read from PV1 (discharged or not).
VISIT_STATUS: dict[str, str | None] = {
    "A01": "in-progress", "A02": "in-progress", "A03": "finished", "A04": "arrived",
    "A05": "planned", "A06": "in-progress", "A07": "in-progress", "A08": None,
    "A11": "cancelled", "A13": "in-progress", "A14": "planned", "A38": "cancelled",
}  # fmt: skip
OPENS_VISIT = frozenset({"A01", "A04", "A05", "A14"})
PATIENT_EVENTS = frozenset({"A28", "A31"})
MERGE_EVENTS = frozenset({"A34", "A40", "A47"})
_PARTICIPANTS = ((7, "ATND", "attender"), (8, "REF", "referrer"), (9, "CON", "consultant"),
                 (17, "ADM", "admitter"))  # fmt: skip
_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
_RELATIONSHIP = {"SEL": "self", "SPO": "spouse", "CHD": "child", "PAR": "parent",
                 "01": "self", "02": "spouse", "03": "child"}  # fmt: skip


def map_adt(message: Message, context: MappingContext) -> Mapped:
    event = message.trigger_event
    if event in MERGE_EVENTS:
        return _merge(message, context)
    if event == "A37":
        return _unlink(message, context)
    bundle = BundleBuilder(context)
    pid = required_pid(message)
    patient, key = patient_resource(pid, context)
    contacts = [c for c in map(_contact, message.all("NK1")) if c]
    if contacts:
        patient["contact"] = contacts
    patient_ref = bundle.put("Patient", patient, key)
    pv1 = message.first("PV1")
    if pv1 is not None and event in VISIT_STATUS:
        _encounter(bundle, message, pv1, patient_ref, event)
    for in1 in message.all("IN1"):
        _coverage(bundle, in1, patient_ref, patient)
    return bundle.build()


def visit_key(message: Message, pv1: Segment, facility: str, event: str) -> Identifier | None:
    number = pv1.get(19) or pv1.get(50)
    if not number and event in OPENS_VISIT:
        number = f"msg-{message.control_id}"
    if not number:
        return None
    return {"system": facility_identifier_system(facility, "encounter"), "value": number}


def encounter_resource(
    pv1: Segment, patient_ref: str, facility: str, key: Identifier, status: str
) -> Resource:
    encounter: Resource = {
        "identifier": [key],
        "status": status,
        "class": encounter_class(pv1.get(2)),
        "subject": reference(patient_ref),
    }
    period = {
        k: v
        for k, v in (
            ("start", to_datetime(pv1.get(44), "PV1-44")),
            ("end", to_datetime(pv1.get(45), "PV1-45")),
        )
        if v
    }
    if period:
        encounter["period"] = period
    service = cwe(pv1, 10, facility, default_system=f"{V2}0069")
    if service:
        encounter["serviceType"] = service
    participants = []
    for n, code, display in _PARTICIPANTS:
        who = name_text(pv1, n)
        if who:
            coding = {"system": _PARTICIPATION, "code": code, "display": display}
            participants.append({"type": [{"coding": [coding]}], "individual": {"display": who}})
    if participants:
        encounter["participant"] = participants
    place = " ".join(p.split("&", 1)[0] for p in pv1.components(3)[:4] if p)
    if place:
        encounter["location"] = [{"location": {"display": place}}]
    stay: dict[str, Any] = {}
    if pv1.get(14):
        stay["admitSource"] = table_concept(pv1.get(14), "0023")
    if pv1.get(36):
        stay["dischargeDisposition"] = table_concept(pv1.get(36), "0112")
    if stay:
        encounter["hospitalization"] = stay
    return encounter


def _encounter(
    bundle: BundleBuilder, message: Message, pv1: Segment, patient_ref: str, event: str
) -> None:
    facility = bundle.context.facility_code
    key = visit_key(message, pv1, facility, event)
    if key is None:
        return
    status = VISIT_STATUS[event] or ("finished" if pv1.get(45) else "in-progress")
    encounter = encounter_resource(pv1, patient_ref, facility, key, status)
    evn = message.first("EVN")
    if event == "A03" and evn is not None and "end" not in encounter.get("period", {}):
        end = to_datetime(evn.get(6) or evn.get(2), "EVN-6")
        if end:
            encounter.setdefault("period", {})["end"] = end
    pv2 = message.first("PV2")
    reason = cwe(pv2, 3, facility) if pv2 is not None else None
    if reason:
        encounter["reasonCode"] = [reason]
    bundle.put("Encounter", encounter, key)


def _contact(nk1: Segment) -> dict[str, Any] | None:
    contact: dict[str, Any] = {}
    person = names(nk1, 2)
    if person:
        contact["name"] = person[0]
    points = telecoms(nk1, 5, 6)
    if points:
        contact["telecom"] = points
    places = addresses(nk1, 4)
    if places:
        contact["address"] = places[0]
    if not contact:
        return None
    relationship = [
        table_concept(code, table)
        for code, table in ((nk1.get(3), "0063"), (nk1.get(7), "0131"))
        if code
    ]
    if relationship:
        contact["relationship"] = relationship
    return contact


def _coverage(bundle: BundleBuilder, in1: Segment, patient_ref: str, patient: Resource) -> None:
    facility = bundle.context.facility_code
    company = in1.get(4) or in1.get(3)
    plan = in1.get(2) or company
    insured = next(
        (i["value"] for i in patient["identifier"] if i["system"] == INSURANCE_PERSON_SYSTEM),
        "",
    )
    subscriber = in1.get(49) or in1.get(36) or insured
    if not plan or not subscriber:
        return
    key = {
        "system": facility_identifier_system(facility, "coverage"),
        "value": f"{plan}/{subscriber}",
    }
    coverage: Resource = {
        "identifier": [key],
        "status": "active",
        "subscriberId": subscriber,
        "beneficiary": reference(patient_ref),
        "payor": [{"display": company or plan}],
    }
    period = {
        k: v
        for k, v in (
            ("start", to_date(in1.get(12), "IN1-12")),
            ("end", to_date(in1.get(13), "IN1-13")),
        )
        if v
    }
    if period:
        coverage["period"] = period
    relation = _RELATIONSHIP.get(in1.get(17))
    if relation:
        system = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
        coverage["relationship"] = {"coding": [{"system": system, "code": relation}]}
    bundle.put("Coverage", coverage, key)


def _merge(message: Message, context: MappingContext) -> Mapped:
    bundle = BundleBuilder(context)
    pairs = _pid_mrg_pairs(message)
    if not pairs:
        raise content_error("the message has no PID segment", "PID", ErrorCode.SEGMENT_SEQUENCE)
    for pid, mrg in pairs:
        survivor, key = patient_resource(pid, context)
        old_ids, local = cx_identifiers(mrg, 1, context.facility_code) if mrg else ([], -1)
        old_key = write_key(old_ids, local)
        if old_key is None:
            raise content_error(
                "MRG-1 (prior patient identifier) is required",
                "MRG-1",
                ErrorCode.REQUIRED_FIELD_MISSING,
            )
        if old_key["system"] == key["system"] and old_key["value"] == key["value"]:
            bundle.put("Patient", survivor, key)
            continue
        retired, _ = patient_resource(pid, context)
        retired_url = full_url("Patient", old_key)
        survivor["active"] = True
        survivor["link"] = [{"other": reference(retired_url), "type": "replaces"}]
        survivor_ref = bundle.put("Patient", survivor, key)
        retired["identifier"] = old_ids
        retired["active"] = False
        retired["link"] = [{"other": reference(survivor_ref), "type": "replaced-by"}]
        bundle.put("Patient", retired, old_key)
    return bundle.build()


def _pid_mrg_pairs(message: Message) -> list[tuple[Segment, Segment | None]]:
    pairs: list[tuple[Segment, Segment | None]] = []
    for segment in message.segments:
        if segment.name == "PID":
            pairs.append((segment, None))
        elif segment.name == "MRG" and pairs and pairs[-1][1] is None:
            pairs[-1] = (pairs[-1][0], segment)
    return pairs


def _unlink(message: Message, context: MappingContext) -> Mapped:
    bundle = BundleBuilder(context)
    pids = message.all("PID")
    if len(pids) < 2:
        raise content_error("A37 needs two PID segments", "PID", ErrorCode.SEGMENT_SEQUENCE)
    local = facility_patient_system(context.facility_code)
    source_ids = []
    for pid in pids[:2]:
        _, key = add_patient(bundle, pid)
        if key["system"] != local:
            raise content_error(
                "PID-3 has no facility patient number to unlink by",
                "PID-3",
                ErrorCode.REQUIRED_FIELD_MISSING,
            )
        source_ids.append(str(key["value"]))
    return bundle.build([IndexOperation("unlink", source_ids[0], source_ids[1])])


ADT_EVENTS: dict[str, Callable[[Message, MappingContext], Mapped]] = {
    event: map_adt for event in (*VISIT_STATUS, *PATIENT_EVENTS, *MERGE_EVENTS, "A37")
}


def encounter_reference(
    bundle: BundleBuilder, message: Message, patient_ref: str | None
) -> str | None:
    """The Encounter of PV1-19 (else PV1-50) for a non-ADT message, created if unknown."""
    pv1 = message.first("PV1")
    number = (pv1.get(19) or pv1.get(50)) if pv1 is not None else ""
    if pv1 is None or not number:
        return None
    key = {"system": facility_identifier_system(bundle.context.facility_code, "encounter"),
           "value": number}  # fmt: skip
    stub: Resource = {
        "identifier": [key],
        "status": "unknown",
        "class": encounter_class(pv1.get(2)),
    }
    if patient_ref:
        stub["subject"] = reference(patient_ref)
    return bundle.ensure("Encounter", stub, key)


def subject_references(bundle: BundleBuilder, message: Message) -> tuple[str | None, str | None]:
    """Patient (created if unknown) and Encounter references of an order or result message."""
    pid = message.first("PID")
    patient_ref = add_patient(bundle, pid, create_only=True)[0] if pid is not None else None
    return patient_ref, encounter_reference(bundle, message, patient_ref)
