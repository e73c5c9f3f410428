"""Pharmacy: RDE^O11/O25 to MedicationRequest, RDS^O13 to MedicationDispense.

Each ORC opens an order group; the RXE (or RXD), TQ1 and RXR that follow belong to it, the last
TQ1/RXR of the group winning (RDE sends the ordered timing after ORC and the encoded one after
RXE). Prescriptions are keyed by ORC-3 (else RXE-15, else ORC-2); dispenses by the prescription
number (RXD-7) and the dispense counter (RXD-1). A dispense against a prescription circulated
through the hub (处方流转) names it in ORC-2 or ORC-3 as ``<MedicationRequest id>^YICHANG-HUB``:
that becomes its ``authorizingPrescription``, so the hub counts it against the prescription.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from adapters.hl7v2.ack import HUB_AUTHORITY
from adapters.hl7v2.errors import ErrorCode
from adapters.hl7v2.mappings.adt import subject_references
from adapters.hl7v2.mappings.common import (
    Element,
    content_error,
    cwe,
    number,
    order_identifiers,
    quantity,
)
from adapters.hl7v2.mappings.context import BundleBuilder, Mapped, MappingContext, reference
from adapters.hl7v2.mappings.datetimes import to_datetime
from adapters.hl7v2.mappings.demographics import name_text
from adapters.hl7v2.parse import Message, Segment
from hub.fhir.systems import facility_identifier_system

# ORC-5 (table 0038), else ORC-1 (table 0119) -> MedicationRequest.status
REQUEST_STATUS = {"CM": "completed", "CA": "cancelled", "DC": "stopped", "HD": "on-hold",
                  "IP": "active", "SC": "active", "A": "active", "NW": "active", "OK": "active",
                  "RP": "active", "RL": "active", "XO": "active", "OC": "cancelled",
                  "CR": "cancelled", "OD": "stopped", "OH": "on-hold", "ER": "entered-in-error"
                  }  # fmt: skip
TIMING_ABBREVIATION = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"
_GTS = frozenset({"BID", "TID", "QID", "AM", "PM", "QD", "QOD", "Q1H", "Q2H", "Q3H", "Q4H",
                  "Q6H", "Q8H", "BED", "WK", "MO"})  # fmt: skip


@dataclass
class _Group:
    orc: Segment | None
    item: Segment | None = None  # RXE or RXD
    tq1: Segment | None = None
    rxr: Segment | None = None


def _groups(message: Message, item_name: str) -> list[_Group]:
    groups: list[_Group] = []
    for segment in message.segments:
        name = segment.name
        if name == "ORC":
            groups.append(_Group(segment))
        elif not groups:
            if name == item_name:
                groups.append(_Group(None, segment))
        elif name == item_name:
            if groups[-1].item is not None:
                groups.append(_Group(groups[-1].orc))
            groups[-1].item = segment
        elif name == "TQ1":
            groups[-1].tq1 = segment
        elif name == "RXR":
            groups[-1].rxr = segment
    return [g for g in groups if g.item is not None]


def _dosage(group: _Group, facility: str, text: str = "") -> Element:
    dosage: Element = {}
    if text:
        dosage["text"] = text
    tq1 = group.tq1
    if tq1 is not None:
        timing: Element = {}
        pattern = tq1.get(3)
        if pattern:
            timing["code"] = (
                {"coding": [{"system": TIMING_ABBREVIATION, "code": pattern}]}
                if pattern in _GTS
                else {"text": pattern}
            )
        bounds = {k: v for k, v in (("start", to_datetime(tq1.get(7), "TQ1-7")),
                                    ("end", to_datetime(tq1.get(8), "TQ1-8"))) if v}  # fmt: skip
        if bounds:
            timing["repeat"] = {"boundsPeriod": bounds}
        if timing:
            dosage["timing"] = timing
    if group.rxr is not None:
        route = cwe(
            group.rxr, 1, facility, default_system="http://terminology.hl7.org/CodeSystem/v2-0162"
        )
        if route:
            dosage["route"] = route
    return dosage


def map_prescription(message: Message, context: MappingContext) -> Mapped:
    facility = context.facility_code
    bundle = BundleBuilder(context)
    patient_ref, encounter_ref = subject_references(bundle, message)
    if patient_ref is None:
        raise content_error("the message has no PID segment", "PID", ErrorCode.SEGMENT_SEQUENCE)
    groups = _groups(message, "RXE")
    if not groups:
        raise content_error("the message has no RXE segment", "RXE", ErrorCode.SEGMENT_SEQUENCE)
    for index, group in enumerate(groups, start=1):
        rxe, orc = group.item, group.orc
        assert rxe is not None
        medication = cwe(rxe, 2, facility)
        if medication is None:
            raise content_error("RXE-2 (give code) is required", "RXE-2",
                                ErrorCode.REQUIRED_FIELD_MISSING)  # fmt: skip
        filler = (orc.get(3) if orc else "") or rxe.get(15)
        placer = orc.get(2) if orc else ""
        identifiers = order_identifiers(
            facility, filler, placer, f"msg-{message.control_id}-{index}", kind="prescription"
        )
        code = (orc.get(5) or orc.get(1)) if orc else ""
        request: Element = {
            "identifier": identifiers,
            "status": REQUEST_STATUS.get(code, "active"),
            "intent": "order",
            "medicationCodeableConcept": medication,
            "subject": reference(patient_ref),
        }
        if encounter_ref:
            request["encounter"] = reference(encounter_ref)
        authored = to_datetime(orc.get(9), "ORC-9") if orc else None
        if authored:
            request["authoredOn"] = authored
        requester = name_text(orc, 12) if orc else ""
        if requester:
            request["requester"] = {"display": requester}
        instructions = rxe.get(7, 2) or rxe.get(7, 1)
        dosage = _dosage(group, facility, instructions)
        dose = number(rxe.get(3))
        if dose is not None:
            dosage["doseAndRate"] = [{"doseQuantity": quantity(dose, rxe.components(5), facility)}]
        if dosage:
            request["dosageInstruction"] = [dosage]
        supply: Element = {}
        amount = number(rxe.get(10))
        if amount is not None:
            supply["quantity"] = quantity(amount, rxe.components(11), facility)
        refills = number(rxe.get(12))
        if isinstance(refills, int) and refills >= 0:
            supply["numberOfRepeatsAllowed"] = refills
        if supply:
            request["dispenseRequest"] = supply
        bundle.put("MedicationRequest", request, identifiers[0])
    return bundle.build()


def _hub_prescription_id(orc: Segment | None) -> str | None:
    """The hub's MedicationRequest id when ORC-2 (placer) or ORC-3 (filler) is in its namespace."""
    for field_number in (2, 3):
        if orc is not None and orc.get(field_number, 2) == HUB_AUTHORITY:
            return orc.get(field_number, 1) or None
    return None


def map_dispense(message: Message, context: MappingContext) -> Mapped:
    facility = context.facility_code
    bundle = BundleBuilder(context)
    patient_ref, encounter_ref = subject_references(bundle, message)
    if patient_ref is None:
        raise content_error("the message has no PID segment", "PID", ErrorCode.SEGMENT_SEQUENCE)
    groups = _groups(message, "RXD")
    if not groups:
        raise content_error("the message has no RXD segment", "RXD", ErrorCode.SEGMENT_SEQUENCE)
    for index, group in enumerate(groups, start=1):
        rxd, orc = group.item, group.orc
        assert rxd is not None
        medication = cwe(rxd, 2, facility)
        if medication is None:
            raise content_error("RXD-2 (dispense/give code) is required", "RXD-2",
                                ErrorCode.REQUIRED_FIELD_MISSING)  # fmt: skip
        prescription = rxd.get(7) or ((orc.get(3) or orc.get(2)) if orc else "")
        prescription = prescription or f"msg-{message.control_id}-{index}"
        key = {"system": facility_identifier_system(facility, "dispense"),
               "value": f"{prescription}/{rxd.get(1) or index}"}  # fmt: skip
        dispense: Element = {
            "identifier": [key],
            "status": "completed",
            "medicationCodeableConcept": medication,
            "subject": reference(patient_ref),
        }
        if encounter_ref:
            dispense["context"] = reference(encounter_ref)
        circulated = _hub_prescription_id(orc)
        if circulated:
            dispense["authorizingPrescription"] = [{"reference": f"MedicationRequest/{circulated}"}]
        amount = number(rxd.get(4))
        if amount is not None:
            dispense["quantity"] = quantity(amount, rxd.components(5), facility)
        handed = to_datetime(rxd.get(3), "RXD-3")
        if handed:
            dispense["whenHandedOver"] = handed
        who = name_text(rxd, 10)
        if who:
            dispense["performer"] = [{"actor": {"display": who}}]
        dosage = _dosage(group, facility, rxd.get(9))
        if dosage:
            dispense["dosageInstruction"] = [dosage]
        bundle.put("MedicationDispense", dispense, key)
    return bundle.build()


PHARMACY_EVENTS: dict[str, Callable[[Message, MappingContext], Mapped]] = {
    "O11": map_prescription,
    "O25": map_prescription,
    "O13": map_dispense,
}
