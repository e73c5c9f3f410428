"""The IHE ITI Scheduling operations: ``Appointment/$find`` (ITI-115), ``$hold`` (ITI-116),
``$book`` (ITI-117, which also cancels), and ``Appointment/{id}/$cancel``.

A view parses the Parameters, calls one service and renders; refusals leave as
OperationOutcomes through the app's one error normaliser.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from hub.deps import CurrentActor, JsonBody, unit_of_work
from hub.errors import InvalidRequest
from hub.fhir.responses import FhirJsonResponse, fhir_response
from hub.fhir.router import FHIR_RESPONSES, WRITTEN
from hub.settings import get_settings
from referral.scheduling import service
from referral.scheduling.resources import reference_id

router = APIRouter(
    prefix="/fhir",
    tags=["Booking (IHE ITI Scheduling)"],
    responses=FHIR_RESPONSES,
    default_response_class=FhirJsonResponse,
)
FIND_PARAMETERS = ("start", "end", "organization", "specialty", "service-type", "patient")
MAX_FIND = 100


def _parameters(body: Any) -> dict[str, Any]:
    """name -> value (resource, reference or primitive) of a FHIR Parameters body."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise InvalidRequest("the body must be a FHIR Parameters resource")
    found: dict[str, Any] = {}
    for parameter in body.get("parameter") or []:
        if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
            raise InvalidRequest("each parameter needs a name")
        values = [v for k, v in parameter.items() if k == "resource" or k.startswith("value")]
        found[parameter["name"]] = values[0] if values else None
    return found


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }


def _find(actor: CurrentActor, values: dict[str, Any]) -> Response:
    try:
        count = min(int(values.get("_count") or 20), MAX_FIND)
    except ValueError:
        raise InvalidRequest("_count must be a number", expression=["_count"]) from None
    referral = str(values.get("referral", "")).lower() == "true"
    with unit_of_work(actor) as store:
        found = service.find_appointments(
            store,
            start=values.get("start"),
            end=values.get("end"),
            organization=values.get("organization"),
            specialty=values.get("specialty"),
            service_type=values.get("service-type"),
            patient=values.get("patient"),
            referral=referral,
            count=count,
        )
    return fhir_response(_searchset(found))


@router.get("/Appointment/$find", summary="ITI-115 Find potential appointments")
def find_get(request: Request, actor: CurrentActor) -> Response:
    names = (*FIND_PARAMETERS, "referral", "_count")
    return _find(actor, {k: v for k, v in request.query_params.items() if k in names})


@router.post("/Appointment/$find", summary="ITI-115 Find potential appointments (Parameters)")
def find_post(actor: CurrentActor, body: JsonBody) -> Response:
    values = _parameters(body)
    patient = values.get("patient-reference")
    if isinstance(patient, dict):
        values["patient"] = reference_id(patient, "Patient")
    primitives = {k: v for k, v in values.items() if isinstance(v, str | int | bool)}
    return _find(actor, primitives)


def _appointment_resource(values: dict[str, Any]) -> dict[str, Any] | None:
    resource = values.get("appointment-resource")
    if resource is None:
        return None
    if not isinstance(resource, dict) or resource.get("resourceType") != "Appointment":
        raise InvalidRequest("appointment-resource must be an Appointment")
    return resource


def _written(appointment: dict[str, Any], created: bool) -> Response:
    location = f"{get_settings().fhir_base_url}/Appointment/{appointment['id']}"
    return fhir_response(appointment, 201 if created else 200, {"Location": location})


@router.post(
    "/Appointment/$hold",
    summary="ITI-116 Hold an appointment (pending; released when the hold lapses)",
    responses=WRITTEN,
)
def hold(actor: CurrentActor, body: JsonBody) -> Response:
    proposal = _appointment_resource(_parameters(body))
    if proposal is None:
        raise InvalidRequest("$hold needs appointment-resource (a proposal from $find)")
    with unit_of_work(actor) as store:
        held = service.hold(store, proposal)
    return _written(held, True)


@router.post(
    "/Appointment/$book",
    summary="ITI-117 Book (a held appointment, or a new one), or cancel",
    responses=WRITTEN,
)
def book(actor: CurrentActor, body: JsonBody) -> Response:
    values = _parameters(body)
    reference = reference_id(values.get("appointment-reference"), "Appointment")
    resource = _appointment_resource(values)
    if reference is None and resource is None:
        raise InvalidRequest("$book needs appointment-reference or appointment-resource")
    with unit_of_work(actor) as store:
        booked, created = service.book(store, appointment_id=reference, appointment=resource)
    return _written(booked, created)


@router.post(
    "/Appointment/{appointment_id}/$cancel",
    summary="Cancel an appointment (its place is released once)",
)
def cancel(appointment_id: str, actor: CurrentActor) -> Response:
    with unit_of_work(actor) as store:
        cancelled = service.cancel(store, appointment_id)
    return _written(cancelled, False)
