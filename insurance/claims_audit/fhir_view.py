"""FHIR resources -> the rules' typed view (:mod:`insurance.claims_audit.view`). Pure.

A settled Claim (``use`` claim, ``status`` active) with its ClaimResponse's per-item benefit;
an Encounter (class ``IMP``/``ACUTE``/``NONAC`` is a stay; the main diagnosis is its
``reasonCode``, else the first diagnosis of a claim for it); a MedicationRequest (what the HL7
RDE mapping and FHIR feeds fill: the drug, ``dispenseRequest`` quantity, repeats, expected
supply and validity, ``encounter``, ``authoredOn``, ``status``); a MedicationDispense
(``context`` is its encounter, ``authorizingPrescription`` its prescriptions: filled by FHIR
feeds and by RDS for a prescription circulated through the hub); a Patient (sex, birth date,
death date). The facility is the resource's provider, performer or requester, else the facility
that wrote it (``meta.source``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from hub.fhir.origin import origin_facility
from insurance.claims_audit.params import Sex
from insurance.claims_audit.view import Claim, Dispense, Encounter, Line, Person, Prescription
from insurance.money import to_fen
from insurance.resources import ADJUDICATION, reference

INPATIENT_CLASSES = frozenset({"IMP", "ACUTE", "NONAC"})


def _id_of(value: Any, resource_type: str) -> str | None:
    ref = reference(value)
    prefix = f"{resource_type}/"
    return ref.removeprefix(prefix) if ref.startswith(prefix) else None


def _code(concept: Any) -> str | None:
    codings = (concept or {}).get("coding") or [] if isinstance(concept, dict) else []
    return next((str(c["code"]) for c in codings if isinstance(c, dict) and c.get("code")), None)


def _day(text: Any) -> date | None:
    return date.fromisoformat(text[:10]) if isinstance(text, str) and len(text) >= 10 else None


def _moment(text: Any) -> datetime | None:
    if not isinstance(text, str) or len(text) < 10:
        return None
    if len(text) == 10:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _facility(resource: dict[str, Any], *refs: Any) -> str:
    for value in refs:
        found = _id_of(value, "Organization")
        if found:
            return found
    return origin_facility(resource) or ""


def benefit_by_item(response: dict[str, Any] | None) -> dict[int, int]:
    """The fund's share of each item (``itemSequence`` -> fen) in a ClaimResponse."""
    found: dict[int, int] = {}
    for item in (response or {}).get("item") or []:
        for adjudication in item.get("adjudication") or []:
            codings = (adjudication.get("category") or {}).get("coding") or []
            if any(c.get("system") == ADJUDICATION and c.get("code") == "benefit" for c in codings):
                value = (adjudication.get("amount") or {}).get("value", 0)
                found[int(item.get("itemSequence") or 0)] = to_fen(value)
    return found


def claim_view(claim: dict[str, Any], response: dict[str, Any] | None) -> Claim | None:
    """The settled claim, or None when it is not one (a pre-settlement, a reversed claim)."""
    created = _day(claim.get("created"))
    person = _id_of(claim.get("patient"), "Patient")
    if claim.get("use") != "claim" or claim.get("status") != "active" or not created or not person:
        return None
    fund = benefit_by_item(response)
    lines = []
    for index, item in enumerate(claim.get("item") or [], start=1):
        sequence = int(item.get("sequence") or index)
        encounters = [_id_of(e, "Encounter") for e in item.get("encounter") or []]
        quantity = (item.get("quantity") or {}).get("value", 1)
        lines.append(
            Line(
                sequence=sequence,
                code=_code(item.get("productOrService")) or "",
                quantity=int(quantity),
                unit_price_fen=to_fen((item.get("unitPrice") or {}).get("value", 0)),
                service_date=_day(item.get("servicedDate")) or created,
                fund_fen=fund.get(sequence, 0),
                encounter=next((e for e in encounters if e), None),
            )
        )
    diagnoses = tuple(
        code
        for diagnosis in claim.get("diagnosis") or []
        if (code := _code(diagnosis.get("diagnosisCodeableConcept")))
    )
    facility = _facility(claim, claim.get("provider"))
    return Claim(str(claim["id"]), person, facility, created, tuple(lines), diagnoses)


def encounter_view(encounter: dict[str, Any], claims: Iterable[Claim] = ()) -> Encounter | None:
    period = encounter.get("period") or {}
    start = _moment(period.get("start"))
    person = _id_of(encounter.get("subject"), "Patient")
    if start is None or person is None:
        return None
    kind = (encounter.get("class") or {}).get("code")
    reasons = [c for r in encounter.get("reasonCode") or [] if (c := _code(r))]
    own = str(encounter.get("id"))
    from_claims = [d for c in claims if own in c.encounters for d in c.diagnoses]
    return Encounter(
        id=own,
        person=person,
        facility=_facility(encounter, encounter.get("serviceProvider")),
        start=start,
        end=_moment(period.get("end")),
        inpatient=kind in INPATIENT_CLASSES,
        main_diagnosis=next(iter(reasons or from_claims), None),
    )


def dispense_view(dispense: dict[str, Any]) -> Dispense | None:
    person = _id_of(dispense.get("subject"), "Patient")
    handed = _day(dispense.get("whenHandedOver"))
    code = _code(dispense.get("medicationCodeableConcept"))
    if person is None or handed is None or code is None:
        return None
    days = (dispense.get("daysSupply") or {}).get("value")
    performers = [p.get("actor") for p in dispense.get("performer") or []]
    return Dispense(
        id=str(dispense.get("id")),
        person=person,
        facility=_facility(dispense, *performers),
        code=code,
        quantity=int((dispense.get("quantity") or {}).get("value", 0)),
        handed_over=handed,
        days_supply=int(days) if days is not None else None,
        encounter=_id_of(dispense.get("context"), "Encounter"),
        prescriptions=tuple(
            rx
            for found in dispense.get("authorizingPrescription") or []
            if (rx := _id_of(found, "MedicationRequest"))
        ),
    )


DAY_UNITS = frozenset({"d", "day", "days", "天"})


def _whole(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() else None


def prescription_view(request: dict[str, Any]) -> Prescription | None:
    """The prescription, or None without a patient or a coded drug (nothing to match on)."""
    person = _id_of(request.get("subject"), "Patient")
    code = _code(request.get("medicationCodeableConcept"))
    if person is None or code is None:
        return None
    supply = request.get("dispenseRequest") or {}
    duration = supply.get("expectedSupplyDuration") or {}
    unit = str(duration.get("code") or duration.get("unit") or "d").lower()
    repeats = _whole(supply.get("numberOfRepeatsAllowed"))
    return Prescription(
        id=str(request.get("id")),
        person=person,
        facility=_facility(request, request.get("requester")),
        code=code,
        status=str(request.get("status") or ""),
        quantity=_whole((supply.get("quantity") or {}).get("value")),
        repeats=repeats if repeats is not None and repeats > 0 else 0,
        days_supply=_whole(duration.get("value")) if unit in DAY_UNITS else None,
        encounter=_id_of(request.get("encounter"), "Encounter"),
        authored=_day(request.get("authoredOn")),
        valid_until=_day((supply.get("validityPeriod") or {}).get("end")),
    )


def person_view(patient: dict[str, Any]) -> Person:
    gender = patient.get("gender")
    return Person(
        id=str(patient.get("id")),
        sex=Sex(gender) if gender in set(Sex) else Sex.UNKNOWN,
        birth_date=_day(patient.get("birthDate")),
        death_date=_day(patient.get("deceasedDateTime")),
    )
