"""ORU^R01: a DiagnosticReport per OBR and an Observation per OBX, linked by ``result``.

Identifiers are deterministic, so a corrected result (OBX-11 C) replaces the one it corrects:
the report by its order number (OBR-3 filler, else OBR-2 placer, else the message control id
and OBR position), each observation by that number, OBX-1 and OBX-4. An encapsulated document
(OBX-2 ED, Base64) becomes the report's ``presentedForm`` instead of an Observation.

An OBR whose service (OBR-4) is a clinical note (a discharge summary, a consult note: see
:mod:`.documents`) and whose OBX segments only carry its content (ED, TX, FT, ST) is a document,
not a result: it becomes a ``DocumentReference``, as an MDM^T02 would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from adapters.hl7v2.errors import ErrorCode
from adapters.hl7v2.mappings.adt import subject_references
from adapters.hl7v2.mappings.common import (
    Element,
    content_error,
    cwe,
    cwe_list,
    number,
    order_identifiers,
    quantity,
    table_concept,
    text_of,
)
from adapters.hl7v2.mappings.context import (
    BundleBuilder,
    Mapped,
    MappingContext,
    Resource,
    reference,
)
from adapters.hl7v2.mappings.datetimes import to_datetime, to_instant
from adapters.hl7v2.mappings.documents import (
    CONTENT_KINDS,
    add_document,
    content,
    document_reference,
    encapsulated,
    is_document_type,
)
from adapters.hl7v2.parse import Message, Segment, split_components
from hub.fhir.systems import facility_identifier_system

REPORT_STATUS = {"O": "registered", "I": "registered", "S": "registered", "A": "partial",
                 "P": "preliminary", "C": "corrected", "R": "preliminary", "F": "final",
                 "X": "cancelled", "Y": "unknown", "Z": "unknown"}  # fmt: skip
RESULT_STATUS = {"C": "corrected", "D": "entered-in-error", "F": "final", "I": "registered",
                 "N": "cancelled", "O": "registered", "P": "preliminary", "R": "preliminary",
                 "S": "preliminary", "U": "final", "W": "entered-in-error",
                 "X": "cancelled"}  # fmt: skip
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_COMPARATORS = frozenset({"<", "<=", ">=", ">"})
_RANGE = re.compile(r"\s*([-+]?\d+(?:\.\d+)?)\s*(?:-|~|–)\s*([-+]?\d+(?:\.\d+)?)\s*")
_COMPARED = re.compile(r"\s*(<=|>=|<|>)\s*([-+]?\d+(?:\.\d+)?)\s*")
# OBR-25 result status -> DocumentReference status and docStatus, for a document
_DOCUMENT_STATUS = {"X": ("entered-in-error", None), "F": ("current", "final"),
                    "C": ("current", "amended"), "P": ("current", "preliminary")}  # fmt: skip


class _Report:
    __slots__ = ("key", "notes_to", "observations", "resource", "result_status", "segments")

    def __init__(self, resource: Resource, key: Element, result_status: str) -> None:
        self.resource = resource
        self.key = key
        self.result_status = result_status  # OBR-25
        self.observations: list[tuple[Resource, Element]] = []
        self.notes_to: Resource | None = None
        self.segments: list[Segment] = []  # its OBX segments, for a document's content


def map_oru(message: Message, context: MappingContext) -> Mapped:
    bundle = BundleBuilder(context)
    patient_ref, encounter_ref = subject_references(bundle, message)
    reports: list[_Report] = []
    orc: Segment | None = None
    for segment in message.segments:
        name = segment.name
        if name == "ORC":
            orc = segment
        elif name == "OBR":
            reports.append(_report(segment, orc, message, context, len(reports) + 1))
        elif name == "OBX":
            if not reports:
                raise content_error("OBX before any OBR", "OBX", ErrorCode.SEGMENT_SEQUENCE)
            _observation(segment, reports[-1], context)
        elif name == "NTE" and reports and reports[-1].notes_to is not None:
            text = text_of(segment, 3)
            if text:
                reports[-1].notes_to.setdefault("note", []).append({"text": text})
    for report in reports:
        if _is_document(report):
            _document(bundle, report, context.facility_code, patient_ref, encounter_ref)
        else:
            _finish(bundle, report, patient_ref, encounter_ref)
    return bundle.build()


def _report(
    obr: Segment, orc: Segment | None, message: Message, context: MappingContext, index: int
) -> _Report:
    facility = context.facility_code
    filler = obr.get(3) or (orc.get(3) if orc is not None else "")
    placer = obr.get(2) or (orc.get(2) if orc is not None else "")
    identifiers = order_identifiers(facility, filler, placer, f"msg-{message.control_id}-{index}")
    code = cwe(obr, 4, facility)
    if code is None:
        raise content_error("OBR-4 (universal service id) is required", "OBR-4",
                            ErrorCode.REQUIRED_FIELD_MISSING)  # fmt: skip
    report: Resource = {"identifier": identifiers, "code": code}
    status = obr.get(25)
    if status:
        report["status"] = REPORT_STATUS.get(status, "unknown")
    section = obr.get(24)
    if section:
        report["category"] = [table_concept(section, "0074")]
    effective = to_datetime(obr.get(7), "OBR-7")
    if effective:
        report["effectiveDateTime"] = effective
    issued = to_instant(obr.get(22), "OBR-22")
    if issued:
        report["issued"] = issued
    return _Report(report, identifiers[0], status)


def _observation(obx: Segment, report: _Report, context: MappingContext) -> None:
    facility = context.facility_code
    kind = obx.get(2)
    report.segments.append(obx)
    if kind == "ED":
        form = _attachment(obx)
        if form:
            report.resource.setdefault("presentedForm", []).append(form)
        report.notes_to = None
        return
    code = cwe(obx, 3, facility)
    if code is None:
        raise content_error("OBX-3 (observation identifier) is required", "OBX-3",
                            ErrorCode.REQUIRED_FIELD_MISSING)  # fmt: skip
    set_id = obx.get(1) or str(len(report.observations) + 1)
    value = f"{report.key['value']}/{set_id}" + (f".{obx.get(4)}" if obx.get(4) else "")
    if any(key["value"] == value for _, key in report.observations):
        value += f"#{len(report.observations) + 1}"
    key = {"system": facility_identifier_system(facility, "observation"), "value": value}
    observation: Resource = {
        "identifier": [key],
        "status": RESULT_STATUS.get(obx.get(11), "unknown"),
        "code": code,
    }
    observation.update(_value(obx, kind, facility))
    ranges = _reference_range(obx, facility)
    if ranges:
        observation["referenceRange"] = ranges
    flags = [
        c
        for r in range(1, len(obx.repetitions(8)) + 1)
        if (c := cwe(obx, 8, facility, r, default_system=INTERPRETATION))
    ]
    if flags:
        observation["interpretation"] = flags
    effective = to_datetime(obx.get(14), "OBX-14") or report.resource.get("effectiveDateTime")
    if effective:
        observation["effectiveDateTime"] = effective
    methods = cwe_list(obx, 17, facility)
    if methods:
        observation["method"] = methods[0]
    report.observations.append((observation, key))
    report.notes_to = observation


def _value(obx: Segment, kind: str, facility: str) -> dict[str, Any]:
    reps = obx.repetitions(5)
    if not reps:
        return {}
    first = split_components(reps[0], obx.delimiters)
    if kind == "NM":
        found = number(first[0])
        if found is not None:
            return {"valueQuantity": quantity(found, obx.components(6), facility)}
        compared = _COMPARED.fullmatch(first[0])
        if compared:
            value = quantity(number(compared[2]) or 0, obx.components(6), facility)
            return {"valueQuantity": {"comparator": compared[1], **value}}
    elif kind == "SN":
        return _structured_numeric([*first, "", "", "", ""], obx, facility)
    elif kind in ("CE", "CWE", "CNE", "CF", "CV"):
        concept = cwe(obx, 5, facility)
        return {"valueCodeableConcept": concept} if concept else {}
    elif kind in ("DT", "DTM", "TS"):
        return {"valueDateTime": to_datetime(first[0], "OBX-5")}
    elif kind == "RP":
        return {}
    text = text_of(obx, 5)
    return {"valueString": text} if text else {}


def _structured_numeric(parts: list[str], obx: Segment, facility: str) -> dict[str, Any]:
    comparator, first, separator, second = (p.strip() for p in parts[:4])
    low, high = number(first), number(second)
    units = obx.components(6)
    if low is not None and not separator and high is None:
        value = quantity(low, units, facility)
        if comparator in _COMPARATORS:
            value = {"comparator": comparator, **value}
        return {"valueQuantity": value}
    if low is not None and high is not None and separator in (":", "/"):
        return {"valueRatio": {"numerator": {"value": low}, "denominator": {"value": high}}}
    if low is not None and high is not None and separator == "-":
        low_q, high_q = quantity(low, units, facility), quantity(high, units, facility)
        return {"valueRange": {"low": low_q, "high": high_q}}
    if low is not None and separator == "+" and high is None:  # "100+": 100 or more
        return {"valueQuantity": {"comparator": ">=", **quantity(low, units, facility)}}
    text = "".join(p for p in (comparator, first, separator, second) if p)
    return {"valueString": text} if text else {}


def _reference_range(obx: Segment, facility: str) -> list[Element]:
    text = obx.get(7).strip()
    if not text:
        return []
    out: Element = {"text": text}
    units = obx.components(6)
    both = _RANGE.fullmatch(text)
    if both:
        for key, raw in (("low", both[1]), ("high", both[2])):
            found = number(raw)
            if found is not None:
                out[key] = quantity(found, units, facility)
    else:
        compared = _COMPARED.fullmatch(text)
        found = number(compared[2]) if compared else None
        if compared and found is not None:
            out["high" if compared[1].startswith("<") else "low"] = quantity(found, units, facility)
    return [out]


def _attachment(obx: Segment) -> Element | None:
    """An ED value as a presented form; None when it carries no Base64 data (a reference)."""
    parts = obx.components(5) + [""] * 5
    if parts[3].upper() != "BASE64" or not parts[4]:
        return None
    return encapsulated(obx)


def _is_document(report: _Report) -> bool:
    kinds = {obx.get(2).upper() for obx in report.segments}
    return bool(kinds) and kinds <= CONTENT_KINDS and is_document_type(report.resource["code"])


def _document(
    bundle: BundleBuilder,
    report: _Report,
    facility: str,
    patient_ref: str | None,
    encounter_ref: str | None,
) -> None:
    resource = report.resource
    date = resource.get("issued") or resource.get("effectiveDateTime")
    attachments = content(report.segments, "OBX")
    document = document_reference(report.key, resource["code"], attachments, facility, date=date)
    status, doc_status = _DOCUMENT_STATUS.get(report.result_status, ("current", None))
    document["status"] = status
    if doc_status:
        document["docStatus"] = doc_status
    add_document(bundle, document, report.key, patient_ref, encounter_ref)


def _finish(
    bundle: BundleBuilder, report: _Report, patient_ref: str | None, encounter_ref: str | None
) -> None:
    links: dict[str, Any] = {}
    if patient_ref:
        links["subject"] = reference(patient_ref)
    if encounter_ref:
        links["encounter"] = reference(encounter_ref)
    results = []
    for observation, key in report.observations:
        observation.update(links)
        results.append(reference(bundle.put("Observation", observation, key)))
    resource = report.resource
    if "status" not in resource:
        statuses = {o["status"] for o, _ in report.observations}
        resource["status"] = "final" if statuses == {"final"} else "unknown"
    resource.update(links)
    if results:
        resource["result"] = results
    bundle.put("DiagnosticReport", resource, report.key)


ORU_EVENTS: dict[str, Callable[[Message, MappingContext], Mapped]] = {"R01": map_oru}
