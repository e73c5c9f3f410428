"""``POST /fhir/ServiceRequest/{id}/$convert-to-referral``: an Advice & Guidance exchange
becomes a referral (Parameters ``performer``: an Organization or HealthcareService reference;
without it, the facility that answered the consultation). Answers the new ServiceRequest, 201."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from hub.deps import CurrentActor, JsonBody, unit_of_work
from hub.errors import InvalidRequest
from hub.fhir.responses import FhirJsonResponse, fhir_response
from hub.fhir.router import FHIR_RESPONSES, WRITTEN
from hub.settings import get_settings
from referral.consultation.service import convert_to_referral

router = APIRouter(
    prefix="/fhir",
    tags=["Remote consultation"],
    responses=FHIR_RESPONSES,
    default_response_class=FhirJsonResponse,
)


def _performer(body: Any) -> str | None:
    if body is None or body == {}:
        return None
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise InvalidRequest("the body must be a FHIR Parameters resource")
    for parameter in body.get("parameter") or []:
        if isinstance(parameter, dict) and parameter.get("name") == "performer":
            reference = (parameter.get("valueReference") or {}).get("reference")
            if not isinstance(reference, str):
                raise InvalidRequest("performer is a valueReference")
            return reference
    return None


@router.post(
    "/ServiceRequest/{request_id}/$convert-to-referral",
    summary="Convert an Advice & Guidance consultation into a referral, keeping its thread",
    responses=WRITTEN,
)
def convert(request_id: str, actor: CurrentActor, body: JsonBody) -> Response:
    performer = _performer(body)
    with unit_of_work(actor) as store:
        referral = convert_to_referral(store, request_id, performer)
    location = f"{get_settings().fhir_base_url}/ServiceRequest/{referral['id']}"
    return fhir_response(referral, 201, {"Location": location})
