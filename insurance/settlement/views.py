"""The FHIR operations: ``CoverageEligibilityRequest/$submit``, ``Claim/$submit``
(``use`` predetermination: pre-settle; claim: settle) and ``Claim/{id}/$cancel``.

Settling and reversing are for a facility system claiming purpose HPAYMT (healthcare
payment); the store audits every read and write with that purpose.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from hub.auth.actor import Actor
from hub.auth.purpose import PurposeOfUse
from hub.auth.roles import Role
from hub.deps import CurrentActor, JsonBody, unit_of_work
from hub.errors import Forbidden, InvalidRequest
from hub.fhir.responses import FhirJsonResponse, fhir_response
from hub.fhir.router import FHIR_RESPONSES
from insurance.eligibility.service import check_eligibility
from insurance.settlement import service

router = APIRouter(
    prefix="/fhir",
    tags=["Insurance settlement"],
    responses=FHIR_RESPONSES,
    default_response_class=FhirJsonResponse,
)


def require_cashier(actor: Actor) -> None:
    if actor.role is not Role.facility_system:
        raise Forbidden("settlement is for a designated facility's system")
    if actor.purpose_of_use != PurposeOfUse.HPAYMT:
        raise Forbidden("settlement needs a token with purpose_of_use HPAYMT")


def _resource(body: Any, resource_type: str) -> dict[str, Any]:
    """The resource itself, or the ``resource`` parameter of a Parameters body."""
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        found = [p.get("resource") for p in body.get("parameter") or [] if isinstance(p, dict)]
        body = next((r for r in found if isinstance(r, dict)), None)
    if not isinstance(body, dict) or body.get("resourceType") != resource_type:
        raise InvalidRequest(f"the body must be a {resource_type} (or Parameters holding one)")
    return body


@router.post(
    "/CoverageEligibilityRequest/$submit",
    summary="Eligibility: deductible left, cap left, personal-account balance",
)
def eligibility(actor: CurrentActor, body: JsonBody) -> Response:
    require_cashier(actor)
    request = _resource(body, "CoverageEligibilityRequest")
    with unit_of_work(actor) as store:
        answer = check_eligibility(store, request)
    return fhir_response(answer)


@router.post("/Claim/$submit", summary="Pre-settle (use=predetermination) or settle (use=claim)")
def submit(actor: CurrentActor, body: JsonBody) -> Response:
    require_cashier(actor)
    claim = _resource(body, "Claim")
    use = claim.get("use")
    with unit_of_work(actor) as store:
        if use == "predetermination":
            return fhir_response(service.pre_settle(store, claim))
        if use != "claim":
            raise InvalidRequest("Claim.use must be predetermination or claim", expression=["use"])
        submitted = service.settle(store, claim)
    return fhir_response(submitted.response, 201 if submitted.created else 200)


@router.post("/Claim/{claim_id}/$cancel", summary="Reverse the settlement of a stored Claim")
def cancel(claim_id: str, actor: CurrentActor) -> Response:
    require_cashier(actor)
    with unit_of_work(actor) as store:
        reversed_ = service.cancel(store, claim_id)
    return fhir_response(reversed_)
