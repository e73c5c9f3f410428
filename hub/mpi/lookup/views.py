"""HTTP interfaces of the patient index: FHIR ``Patient/$match``, IHE PIXm ``Patient/$ihe-pix``
(ITI-83), PDQm-style person search and the golden record read as a FHIR Patient.

Views parse, call one :mod:`hub.mpi.lookup.queries` function, audit and render. Included in the app
before the generic FHIR router, so ``/fhir/Patient/$match`` is not read as a Patient id.
Patient-context tokens (a patient's own app) are refused: these interfaces reach across people.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from hub.audit.service import flush_pending_audit
from hub.auth.actor import Actor
from hub.auth.scopes import Interaction
from hub.deps import CurrentActor, JsonBody, unit_of_work
from hub.errors import Forbidden, InvalidRequest, NotFound
from hub.fhir import access
from hub.fhir.responses import fhir_response
from hub.fhir.store import FhirStore
from hub.fhir.systems import ENTERPRISE_ID_SYSTEM
from hub.fhir.validation import validate_resource
from hub.mpi.lookup.queries import (
    CrossReference,
    MatchResult,
    PersonHit,
    PixmError,
    cross_reference,
    match_patient,
    read_person,
    search_persons,
)
from hub.mpi.matching.features import EmptyRecordError, MatchFeatures, features_from_patient
from hub.mpi.matching.features import parse_birth_date as check_birth_date
from hub.mpi.stewardship.links import patient_ids as source_patients
from hub.settings import get_settings

MATCH_GRADE_URL = "http://hl7.org/fhir/StructureDefinition/match-grade"
DEFAULT_MATCH_COUNT = 10
PERSON_PARAMS = ("name", "family", "given", "birthdate", "gender", "identifier", "phone", "address")
GENDERS = ("male", "female", "other", "unknown")
PARAMETERS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/fhir+json": {
                "schema": {"type": "object", "required": ["resourceType", "parameter"]},
                "description": "A Parameters resource: resource (Patient), onlyCertainMatches, "
                "count",
            }
        },
    }
}
EidPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9\-.]{1,64}$", description="Enterprise id")]
router = APIRouter(tags=["Patient index"])


@dataclass(frozen=True)
class MatchRequest:
    patient: dict[str, Any]
    only_certain: bool
    count: int


# -- parsing ---------------------------------------------------------------------------------


def parse_match_parameters(body: Any, max_count: int) -> MatchRequest:
    """The R4 ``$match`` input: ``resource`` (a Patient), ``onlyCertainMatches``, ``count``."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise InvalidRequest("$match takes a Parameters resource", expression=["Parameters"])
    validate_resource("Parameters", body)
    patient: dict[str, Any] | None = None
    only_certain, count, seen = False, DEFAULT_MATCH_COUNT, set()
    for i, param in enumerate(body.get("parameter") or []):
        name, where = str(param.get("name")), f"Parameters.parameter[{i}]"
        if name in seen:
            raise InvalidRequest(f"parameter {name[:40]!r} is repeated", expression=[where])
        seen.add(name)
        if name == "resource":
            resource = param.get("resource")
            if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
                raise InvalidRequest("resource must be a Patient", expression=[f"{where}.resource"])
            patient = resource
        elif name == "onlyCertainMatches":
            if not isinstance(param.get("valueBoolean"), bool):
                raise InvalidRequest("onlyCertainMatches needs a valueBoolean", expression=[where])
            only_certain = param["valueBoolean"]
        elif name == "count":
            value = param.get("valueInteger")
            if type(value) is not int or value < 1:
                raise InvalidRequest("count needs a positive valueInteger", expression=[where])
            count = min(value, max_count)
        else:
            raise InvalidRequest(f"unknown $match parameter {name[:40]!r}", expression=[where])
    if patient is None:
        raise InvalidRequest("the resource parameter (a Patient) is required",
                             expression=["Parameters.parameter"])  # fmt: skip
    return MatchRequest(patient, only_certain, count)


def parse_token(text: str, name: str) -> tuple[str, str]:
    """``system|value`` with both parts present."""
    system, bar, value = text.partition("|")
    if not bar or not system.strip() or not value.strip():
        raise InvalidRequest(f"{name} must be system|value", expression=[name])
    return system.strip(), value.strip()


def parse_pix_query(params: list[tuple[str, str]]) -> tuple[str, str, list[str]]:
    """ITI-83: exactly one ``sourceIdentifier``; ``targetSystem`` repeated or comma-separated."""
    unknown = {k for k, _ in params} - {"sourceIdentifier", "targetSystem", "_format"}
    if unknown:
        raise InvalidRequest(f"unknown parameter {sorted(unknown)[0][:40]!r}")
    sources = [v for k, v in params if k == "sourceIdentifier"]
    if len(sources) != 1:
        raise InvalidRequest("exactly one sourceIdentifier is required",
                             expression=["sourceIdentifier"])  # fmt: skip
    system, value = parse_token(sources[0], "sourceIdentifier")
    targets = [t.strip() for k, v in params if k == "targetSystem" for t in v.split(",")]
    return system, value, list(dict.fromkeys(t for t in targets if t))


def parse_person_query(
    params: list[tuple[str, str]], default_count: int, max_count: int
) -> tuple[MatchFeatures | None, tuple[str, str] | None, int]:
    """Person search parameters into match features, an exact identifier, and a page size."""
    values: dict[str, str] = {}
    for key, value in params:
        if key not in (*PERSON_PARAMS, "_count"):
            raise InvalidRequest(f"unknown parameter {key[:40]!r}", expression=[key[:40]])
        if key in values:
            raise InvalidRequest(f"parameter {key!r} is repeated", expression=[key])
        if value.strip():
            values[key] = value.strip()
    count = default_count
    if "_count" in values:
        given = values["_count"]
        digits = given.isascii() and given.isdigit() and len(given) < 10  # int() takes more
        if not digits or not 1 <= int(given) <= max_count:
            raise InvalidRequest("_count is out of range", expression=["_count"])
        count = int(values.pop("_count"))
    if not values:
        raise InvalidRequest(f"give at least one of {', '.join(PERSON_PARAMS)}")
    identifier = parse_token(values["identifier"], "identifier") if "identifier" in values else None
    patient = _patient_of(values, identifier)
    if set(values) <= {"identifier"}:
        return None, identifier, count
    try:
        return features_from_patient(patient), identifier, count
    except EmptyRecordError as exc:
        raise InvalidRequest(f"nothing to search on: {exc}") from None


def _patient_of(values: dict[str, str], identifier: tuple[str, str] | None) -> dict[str, Any]:
    patient: dict[str, Any] = {"resourceType": "Patient"}
    name: dict[str, Any] = {
        k: v for k, v in (("text", values.get("name")), ("family", values.get("family"))) if v
    }
    if values.get("given"):
        name["given"] = values["given"].split()
    if name:
        patient["name"] = [name]
    if "birthdate" in values:
        try:
            check_birth_date(values["birthdate"])
        except ValueError:
            raise InvalidRequest("birthdate must be YYYY-MM-DD", expression=["birthdate"]) from None
        patient["birthDate"] = values["birthdate"]
    if "gender" in values:
        if values["gender"] not in GENDERS:
            raise InvalidRequest(f"gender must be one of {', '.join(GENDERS)}",
                                 expression=["gender"])  # fmt: skip
        patient["gender"] = values["gender"]
    if identifier is not None:
        patient["identifier"] = [{"system": identifier[0], "value": identifier[1]}]
    if "phone" in values:
        patient["telecom"] = [{"system": "phone", "value": values["phone"]}]
    if "address" in values:
        patient["address"] = [{"text": values["address"]}]
    return patient


def _features(patient: dict[str, Any], where: str) -> MatchFeatures:
    try:
        return features_from_patient(patient)
    except EmptyRecordError as exc:
        raise InvalidRequest(f"the Patient cannot be matched: {exc}", code="required",
                             expression=[where]) from None  # fmt: skip


# -- rendering -------------------------------------------------------------------------------


def _base() -> str:
    return get_settings().public_base_url.rstrip("/")


def person_url(enterprise_id: str) -> str:
    return f"{_base()}/mpi/persons/{enterprise_id}"


def _entry(hit: PersonHit) -> dict[str, Any]:
    search: dict[str, Any] = {"mode": "match"}
    if hit.probability is not None:
        search["score"] = round(hit.probability, 6)
    if hit.grade is not None:
        search["extension"] = [{"url": MATCH_GRADE_URL, "valueCode": str(hit.grade)}]
    return {"fullUrl": person_url(hit.enterprise_id), "resource": hit.golden, "search": search}


def searchset(hits: list[PersonHit], withheld: int = 0) -> dict[str, Any]:
    entries = [_entry(hit) for hit in hits]
    if withheld:
        text = (f"{withheld} certain matches found; none returned because onlyCertainMatches "
                "is true")  # fmt: skip
        issue = {"severity": "warning", "code": "multiple-matches", "diagnostics": text}
        entries.append({"resource": {"resourceType": "OperationOutcome", "issue": [issue]},
                        "search": {"mode": "outcome"}})  # fmt: skip
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": datetime.now(UTC).isoformat(timespec="milliseconds")},
        "type": "searchset",
        "total": len(hits),
    }
    if entries:
        bundle["entry"] = entries
    return bundle


def pix_parameters(xref: CrossReference, targets: list[str]) -> dict[str, Any]:
    """Targets filter identifiers; targetId (the hub's Patient resources) comes without them."""
    params: list[dict[str, Any]] = [
        {"name": "targetIdentifier", "valueIdentifier": {"system": system, "value": value}}
        for system, value in xref.identifiers
    ]
    if not targets:
        params += [
            {"name": "targetId", "valueReference": {"reference": f"Patient/{patient_id}"}}
            for patient_id in xref.patient_ids
        ]
    body: dict[str, Any] = {"resourceType": "Parameters"}
    if params:
        body["parameter"] = params
    return body


def _not_found() -> PixmError:
    return PixmError("sourceIdentifier Patient Identifier not found", status=404, code="not-found")


# -- views -----------------------------------------------------------------------------------


def _require(actor: Actor, interaction: Interaction) -> None:
    access.require(actor, "Patient", interaction)
    if actor.patient is not None:
        raise Forbidden("patient-context tokens cannot query the patient index")


def _keep_audit(store: FhirStore) -> None:
    """Commit the audit record of a consent refusal (with its consents) before answering 404."""
    flush_pending_audit(store.session)
    store.session.commit()


def _consented(store: FhirStore, hits: list[PersonHit]) -> list[PersonHit]:
    """The hits whose every source record the consent decision lets the caller see; the others
    are left out as if the index held no such person (the issue: no trace of a denied record)."""
    return [
        hit
        for hit in hits
        if store.guard.permits_patients(source_patients(store.session, [hit.person_id]))
    ]


def _audit(
    store: FhirStore, interaction: str, patients: list[str], names: str | None = None
) -> None:
    resources = [f"Patient/{p}" for p in patients]
    store.audit(interaction, "Patient", resources, patients, query_params=names)


@router.post("/fhir/Patient/$match", summary="FHIR Patient $match (golden records, graded)",
             openapi_extra=PARAMETERS_BODY)  # fmt: skip
def match(actor: CurrentActor, body: JsonBody) -> Response:
    _require(actor, Interaction.search)
    request = parse_match_parameters(body, get_settings().max_page_size)
    features = _features(request.patient, "Parameters.parameter.resource")
    with unit_of_work(actor) as store:
        result: MatchResult = match_patient(store.session, store.cipher, features,
                                            only_certain=request.only_certain,
                                            count=request.count)  # fmt: skip
        hits = _consented(store, result.hits)
        patients = source_patients(store.session, [h.person_id for h in hits])
        _audit(store, "operation", patients, "$match")
    return fhir_response(searchset(hits, result.withheld))


@router.get("/fhir/Patient/$ihe-pix", summary="IHE PIXm ITI-83: cross-referenced identifiers")
def ihe_pix(request: Request, actor: CurrentActor) -> Response:
    _require(actor, Interaction.read)
    system, value, targets = parse_pix_query(request.query_params.multi_items())
    with unit_of_work(actor) as store:
        xref = cross_reference(store.session, store.cipher, system, value, targets)
        if not store.guard.permits_patients(xref.patient_ids):
            _audit(store, "operation", xref.patient_ids, "$ihe-pix")
            _keep_audit(store)
            raise _not_found()  # exactly as for an unknown identifier: a denial reveals nothing
        _audit(store, "operation", xref.patient_ids, "$ihe-pix")
    return fhir_response(pix_parameters(xref, targets))


@router.get("/mpi/persons", summary="Search persons (PDQm-style), golden records")
def find_persons(request: Request, actor: CurrentActor) -> Response:
    _require(actor, Interaction.search)
    settings = get_settings()
    params = request.query_params.multi_items()
    features, identifier, count = parse_person_query(
        params, settings.default_page_size, settings.max_page_size
    )
    with unit_of_work(actor) as store:
        hits = search_persons(store.session, store.cipher, features, identifier, count=count)
        hits = _consented(store, hits)
        patients = source_patients(store.session, [h.person_id for h in hits])
        _audit(store, "search-type", patients, ",".join(sorted({k for k, _ in params})))
    return fhir_response(searchset(hits))


@router.get("/mpi/persons/{enterprise_id}", summary="A person's golden record as a Patient")
def read_golden_record(enterprise_id: EidPath, actor: CurrentActor) -> Response:
    """A merged person's id answers with the survivor's record, which then carries a
    ``link`` of type ``replaces`` naming the id asked for; Content-Location is the survivor."""
    _require(actor, Interaction.read)
    with unit_of_work(actor) as store:
        record = read_person(store.session, store.cipher, enterprise_id)
        sources = source_patients(store.session, [record.person_id])
        if not store.guard.permits_patients(sources):
            _audit(store, "read", sources)
            _keep_audit(store)
            raise NotFound("no person has this enterprise id")  # as for an unknown one
        _audit(store, "read", sources)
    body = record.golden
    if record.replaces:
        link = {"other": {"identifier": {"system": ENTERPRISE_ID_SYSTEM, "value": record.replaces}},
                "type": "replaces"}  # fmt: skip
        body = {**body, "link": [*body.get("link", []), link]}
    return fhir_response(body, headers={"Content-Location": person_url(record.enterprise_id)})
