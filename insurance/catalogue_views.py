"""``GET /insurance/catalogue``: the policy's catalogue for clients, as a Bundle of
``ChargeItemDefinition`` (read-only; the generic FHIR store does not serve that type).

Any authenticated caller may read it: it holds prices and classes, no personal data.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from hub.deps import CurrentActor
from hub.errors import FhirError
from hub.fhir.responses import FhirJsonResponse, fhir_response
from hub.fhir.router import FHIR_RESPONSES
from hub.settings import get_settings
from insurance.catalogue import catalogue_bundle
from insurance.policy_source import configured_policy

router = APIRouter(
    prefix="/insurance",
    tags=["Insurance settlement"],
    responses=FHIR_RESPONSES,
    default_response_class=FhirJsonResponse,
)


@router.get("/catalogue", summary="The insurance catalogue as ChargeItemDefinition resources")
def catalogue(
    actor: CurrentActor,
    on: Annotated[
        date | None, Query(description="the policy in force that day (default today)")
    ] = None,
) -> Response:
    del actor  # authenticated: the dependency refused anyone else
    day = on or datetime.now(UTC).date()
    try:
        version = configured_policy().on(day)
    except LookupError as exc:
        raise FhirError(str(exc), status=404, code="not-found") from None
    return fhir_response(catalogue_bundle(version, get_settings().fhir_base_url))
