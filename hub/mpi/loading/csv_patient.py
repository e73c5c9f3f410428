"""A bulk-load CSV row as a FHIR Patient (pure; ``hub.mpi.loading.bulk`` writes it through the
store).

The row's columns are authoritative for the elements they carry; anything else a stored Patient
holds (other identifier systems, contacts, extensions, e-mail) is kept, so reloading a file onto
Patients a facility also sends through the API never clobbers them:

- ``source_id``: an ``identifier`` in the facility's local-number system;
- ``name``, ``family_name``, ``given_name``: the ``official`` ``name`` (text, family, given); a
  row with a ``name`` and neither part gets ``family`` and ``given`` cut from it where the
  patient index cuts it (:mod:`hub.mpi.matching.written_names`), as written; parts the row has win;
- ``gender``: ``gender`` (male/female/M/F/男/女/1/2);
- ``birth_date``: ``birthDate`` (YYYY-MM-DD or YYYYMMDD);
- ``id_system``, ``id_number``: one ``identifier`` (an empty ``id_system`` means a resident
  ID, 居民身份证号码);
- ``phone``: the ``phone`` ``telecom``;
- ``address``, ``postal_code``: the ``home`` ``address`` (text, line, postalCode).

A value that cannot be coded (an impossible date, an unknown gender word) is kept as typed in the
R4 ``originalText`` extension of the element (``_birthDate``), which the patient index flags; a
malformed resident ID is kept as given under the resident-ID system (never a strong identifier).
Columns the file does not have leave their elements as stored.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from hub.fhir.systems import NAMESPACE, RESIDENT_ID_SYSTEM, facility_patient_system
from hub.mpi.matching.features import ORIGINAL_TEXT_EXTENSION, normalise_sex, parse_birth_date
from hub.mpi.matching.identifiers import InvalidIdError, parse_id
from hub.mpi.matching.written_names import split_written_name

CSV_COLUMNS = (
    "source_id", "name", "family_name", "given_name", "gender", "birth_date", "id_system",
    "id_number", "phone", "address", "postal_code",
)  # fmt: skip
NAME_COLUMNS = frozenset({"name", "family_name", "given_name"})
ID_COLUMNS = frozenset({"id_system", "id_number"})
ADDRESS_COLUMNS = frozenset({"address", "postal_code"})
PHONE_SYSTEMS = ("phone", "sms")
_ID_SAFE = re.compile(r"[A-Za-z0-9\-.]+")
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, f"{NAMESPACE}/bulk-load/patient")

Row = Mapping[str, str | None]


def patient_id_for(facility: str, source_id: str) -> str:
    """The Patient id a bulk-loaded record gets: stable per (facility, source_id).

    ``{facility}-{source_id}`` when that is a valid FHIR id, else ``{facility}.{uuid5 hex}``;
    facility codes hold neither ``-`` nor ``.``, so the two forms never collide.
    """
    readable = f"{facility}-{source_id}"
    if _ID_SAFE.fullmatch(source_id) and len(readable) <= 64:
        return readable
    return f"{facility}.{uuid.uuid5(_ID_NAMESPACE, f'{facility}|{source_id}').hex}"


def _text(row: Row, column: str) -> str:
    return (row.get(column) or "").strip()


def _original(text: str) -> dict[str, Any]:
    return {"extension": [{"url": ORIGINAL_TEXT_EXTENSION, "valueString": text}]}


def _row_identifier(row: Row) -> tuple[str, dict[str, str] | None]:
    """(system the row speaks for, identifier or None) of the id_system/id_number columns."""
    value, system = _text(row, "id_number"), _text(row, "id_system") or RESIDENT_ID_SYSTEM
    if not value:
        return system, None
    if system == RESIDENT_ID_SYSTEM:
        # The searchable form (no spaces, upper-case X); a malformed one is kept as given, and
        # the index flags it and never treats it as a strong identifier.
        with contextlib.suppress(InvalidIdError):
            value = parse_id(value).normalized
    return system, {"system": system, "value": value}


def _identifiers(
    stored: list[Any], row: Row, columns: frozenset[str], local: dict[str, str]
) -> list[Any]:
    """The row's identifier, the local number, then every stored one of another system."""
    own_systems = {local["system"]}
    first: list[dict[str, str]] = []
    if columns & ID_COLUMNS:
        system, identifier = _row_identifier(row)
        own_systems.add(system)
        if identifier is not None:
            first.append(identifier)
    kept = [
        i for i in stored
        if not isinstance(i, dict) or (i.get("system") not in own_systems and i not in first)
    ]  # fmt: skip
    return [*first, local, *kept]


def _name(row: Row) -> dict[str, Any] | None:
    text, family, given = _text(row, "name"), _text(row, "family_name"), _text(row, "given_name")
    if not (text or family or given):
        return None
    givens = [given] if given else []
    if text and not (family or given):  # cut where the index cuts it, so family= searches find it
        written = split_written_name(text)
        if written is not None:
            family, givens = written.family, list(written.given)
    name: dict[str, Any] = {"use": "official"}
    if text:
        name["text"] = text
    if family:
        name["family"] = family
    if givens:
        name["given"] = givens
    return name


def _home_address(stored: list[Any], row: Row, columns: frozenset[str]) -> list[Any]:
    homes = [a for a in stored if isinstance(a, dict) and a.get("use") in (None, "home")]
    others = [a for a in stored if a not in homes]
    home: dict[str, Any] = dict(homes[0]) if homes else {}
    home["use"] = "home"
    if "address" in columns:
        text = _text(row, "address")
        home.pop("text", None)
        home.pop("line", None)
        if text:
            home["text"], home["line"] = text, [text]
    if "postal_code" in columns:
        home.pop("postalCode", None)
        if _text(row, "postal_code"):
            home["postalCode"] = _text(row, "postal_code")
    return [home, *others] if len(home) > 1 else others


def row_patient(
    row: Row,
    *,
    columns: frozenset[str],
    facility: str,
    patient_id: str,
    stored: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Patient of ``row`` (its file has ``columns``), laid over ``stored`` if there is one."""
    patient: dict[str, Any] = orjson.loads(orjson.dumps(stored)) if stored else {}
    patient["resourceType"], patient["id"] = "Patient", patient_id
    meta = {k: v for k, v in (patient.pop("meta", None) or {}).items()
            if k not in ("versionId", "lastUpdated")}  # fmt: skip
    if meta:
        patient["meta"] = meta
    local = {"system": facility_patient_system(facility), "value": _text(row, "source_id")}
    patient["identifier"] = _identifiers(patient.get("identifier") or [], row, columns, local)
    if columns & NAME_COLUMNS:
        names = [n for n in patient.get("name") or []
                 if not isinstance(n, dict) or n.get("use") not in (None, "official")]  # fmt: skip
        name = _name(row)
        patient["name"] = [name, *names] if name else names
    if "gender" in columns:
        patient.pop("gender", None)
        patient.pop("_gender", None)
        typed = _text(row, "gender")
        sex = normalise_sex(typed)
        if sex:
            patient["gender"] = sex
        elif typed:
            patient["_gender"] = _original(typed)
    if "birth_date" in columns:
        patient.pop("birthDate", None)
        patient.pop("_birthDate", None)
        typed = _text(row, "birth_date")
        try:
            birth = parse_birth_date(typed)
        except ValueError:
            patient["_birthDate"] = _original(typed)
        else:
            if birth is not None:
                patient["birthDate"] = birth.isoformat()
    if "phone" in columns:
        telecom = [t for t in patient.get("telecom") or []
                   if not isinstance(t, dict) or t.get("system") not in PHONE_SYSTEMS]  # fmt: skip
        phone = _text(row, "phone")
        patient["telecom"] = [{"system": "phone", "value": phone}, *telecom] if phone else telecom
    if columns & ADDRESS_COLUMNS:
        patient["address"] = _home_address(patient.get("address") or [], row, columns)
    patient.setdefault("managingOrganization", {"reference": f"Organization/{facility}"})
    for element in ("name", "telecom", "address"):
        if not patient.get(element):
            patient.pop(element, None)
    return patient


def same_patient(stored: Mapping[str, Any], patient: Mapping[str, Any]) -> bool:
    """True when writing ``patient`` would change nothing but the version stamp."""

    def content(resource: Mapping[str, Any]) -> dict[str, Any]:
        data = dict(resource)
        meta = {k: v for k, v in (data.pop("meta", None) or {}).items()
                if k not in ("versionId", "lastUpdated")}  # fmt: skip
        if meta:
            data["meta"] = meta
        return data

    return content(stored) == content(patient)
