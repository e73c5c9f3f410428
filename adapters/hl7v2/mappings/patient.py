"""PID to a FHIR Patient in exactly the shapes the patient index reads
(hub/mpi/matching/features.py).

PID-3 identifiers are sorted into the hub's systems:

* the facility's own patient number (type MR/PI/MRN, or the first untyped local number) under
  ``facility_patient_system(facility)``: the index's source id, and the Patient's write key;
* a resident identity number (GB 11643) under ``RESIDENT_ID_SYSTEM``, recognised by type code
  or assigning authority, or by shape and check digit; normalised when valid, kept as sent
  when not (the index flags it and leaves it out of matching);
* a medical-insurance person number under ``INSURANCE_PERSON_SYSTEM``;
* anything else under the facility's namespace for its type (``.../patient-ss``).
"""

from __future__ import annotations

from typing import Any

from adapters.hl7v2.errors import ErrorCode
from adapters.hl7v2.mappings.common import V2, content_error, cwe, gender, kind_of
from adapters.hl7v2.mappings.context import BundleBuilder, Identifier, MappingContext, Resource
from adapters.hl7v2.mappings.datetimes import to_date, to_datetime
from adapters.hl7v2.mappings.demographics import addresses, has_hanzi, names, telecoms
from adapters.hl7v2.parse import Message, Segment, split_components
from hub.fhir.systems import (
    INSURANCE_PERSON_SYSTEM,
    RESIDENT_ID_SYSTEM,
    facility_identifier_system,
    facility_patient_system,
)
from hub.mpi.matching import InvalidIdError, parse_id

MR_TYPES = frozenset({"MR", "MRN", "PI"})
RESIDENT_TYPES = frozenset({"NI", "NNCHN", "SFZ", "ID", "RID", "CZ", "SFZH"})
RESIDENT_AUTHORITIES = frozenset({"CHN", "NNCHN", "GB11643", "GB 11643", "公安部", "身份证"})
INSURANCE_TYPES = frozenset({"YB", "YBH", "YBKH", "SN", "HC", "NH", "JHN", "MC", "MA"})
INSURANCE_AUTHORITIES = frozenset({"YB", "NHSA", "CHS", "医保", "医保局", "医疗保障局"})
NOT_PATIENT_NUMBERS = frozenset({"SS", "DL", "PPN", "AN", "VN", "BC", "PN", "EI", "U"})
_V2_0203 = MR_TYPES | NOT_PATIENT_NUMBERS | {"NI", "SN", "HC", "NH", "JHN", "MC", "MA", "PT"}
_MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"


def _resident(value: str) -> str:
    try:
        return parse_id(value).normalized
    except InvalidIdError:
        return value  # kept as sent; the index flags it


def _looks_resident(value: str) -> bool:
    if len(value) != 18 or not value[:17].isdigit():
        return False
    try:
        parse_id(value)
    except InvalidIdError:
        return False
    return True


def cx_identifiers(segment: Segment, n: int, facility: str) -> tuple[list[Identifier], int]:
    """The identifiers of a CX list and the index of the facility's patient number (-1: none)."""
    out: list[Identifier] = []
    local = -1
    untyped = -1
    for raw in segment.repetitions(n):
        parts = split_components(raw, segment.delimiters) + [""] * 6
        value, type_code = parts[0].strip(), parts[4].strip().upper()
        authority = parts[3].split("&", 1)[0].strip()
        if not value:
            continue
        identifier: Identifier
        if type_code in MR_TYPES and local < 0:
            identifier = {"system": facility_patient_system(facility), "value": value}
            local = len(out)
        elif type_code in RESIDENT_TYPES or authority.upper() in RESIDENT_AUTHORITIES:
            identifier = {"system": RESIDENT_ID_SYSTEM, "value": _resident(value)}
        elif (
            type_code in INSURANCE_TYPES
            or authority.upper() in INSURANCE_AUTHORITIES
            or ("医保" in authority)
        ):
            identifier = {"system": INSURANCE_PERSON_SYSTEM, "value": value}
        elif type_code not in MR_TYPES and _looks_resident(value):
            identifier = {"system": RESIDENT_ID_SYSTEM, "value": _resident(value)}
        else:
            kind = f"patient-{kind_of(type_code)}" if type_code else "patient-other"
            identifier = {"system": facility_identifier_system(facility, kind), "value": value}
            if untyped < 0 and type_code not in NOT_PATIENT_NUMBERS:
                untyped = len(out)
        if type_code:
            identifier["type"] = (
                {"coding": [{"system": f"{V2}0203", "code": type_code}]}
                if type_code in _V2_0203
                else {"text": type_code}
            )
        if authority:
            identifier["assigner"] = {"display": authority}
        if all(i["system"] != identifier["system"] or i["value"] != value for i in out):
            out.append(identifier)
    if local < 0 and untyped >= 0:  # an untyped local number is the facility's patient number
        out[untyped]["system"] = facility_patient_system(facility)
        local = untyped
    return out, local


def write_key(identifiers: list[Identifier], local: int) -> Identifier | None:
    """The identifier a Patient is written by: its local number, else a national one."""
    if local >= 0:
        return identifiers[local]
    for system in (RESIDENT_ID_SYSTEM, INSURANCE_PERSON_SYSTEM):
        for identifier in identifiers:
            if identifier["system"] == system:
                return identifier
    return identifiers[0] if identifiers else None


def patient_resource(pid: Segment, context: MappingContext) -> tuple[Resource, Identifier]:
    """The Patient of a PID segment and the identifier it is written by."""
    facility = context.facility_code
    identifiers, local = cx_identifiers(pid, 3, facility)
    key = write_key(identifiers, local)
    if key is None:
        raise content_error(
            "PID-3 (patient identifier list) has no usable identifier",
            "PID-3",
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    ssn = pid.get(19)  # some Chinese systems send the resident number in PID-19
    if ssn and _looks_resident(ssn):
        resident = {"system": RESIDENT_ID_SYSTEM, "value": _resident(ssn)}
        if resident not in identifiers:
            identifiers.append(resident)
    patient: Resource = {"identifier": identifiers}
    person_names = names(pid, 5)
    if person_names:
        patient["name"] = person_names
    points = telecoms(pid, 13, 14)
    if points:
        patient["telecom"] = points
    sex = gender(pid.get(8))
    if sex:
        patient["gender"] = sex
    birth = to_date(pid.get(7), "PID-7")
    if birth:
        patient["birthDate"] = birth
    _deceased(pid, patient)
    places = addresses(pid, 11)
    if places:
        patient["address"] = places
    marital = pid.get(16)
    if marital:
        default = _MARITAL if marital.isalpha() and not has_hanzi(marital) else None
        status = cwe(pid, 16, facility, default_system=default)
        if status:
            patient["maritalStatus"] = status
    return patient, key


def _deceased(pid: Segment, patient: dict[str, Any]) -> None:
    when = to_datetime(pid.get(29), "PID-29")
    if when:
        patient["deceasedDateTime"] = when
    elif pid.get(30) in ("Y", "N"):
        patient["deceasedBoolean"] = pid.get(30) == "Y"


def required_pid(message: Message) -> Segment:
    pid = message.first("PID")
    if pid is None:
        raise content_error("the message has no PID segment", "PID", ErrorCode.SEGMENT_SEQUENCE)
    return pid


def add_patient(
    bundle: BundleBuilder, pid: Segment, *, create_only: bool = False
) -> tuple[str, Identifier]:
    """Add the Patient of ``pid``: written (PUT) or, with ``create_only``, created if unknown.

    Returns its reference and write key.
    """
    patient, key = patient_resource(pid, bundle.context)
    if create_only:
        return bundle.ensure("Patient", patient, key), key
    return bundle.put("Patient", patient, key), key


def patient_entry(
    pid: Segment, context: MappingContext, *, create_only: bool = False
) -> dict[str, Any]:
    """The Bundle entry of the Patient in ``pid`` (conditional PUT on its write key)."""
    bundle = BundleBuilder(context)
    add_patient(bundle, pid, create_only=create_only)
    return bundle.entries[0]
