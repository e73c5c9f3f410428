"""The reconciliation API (对账): a facility's system uploads its day's 3202 details, an
insurance auditor runs the day again; both answer the hub's result, a PaymentReconciliation.

- ``POST /fhir/PaymentReconciliation/$upload?facility=CODE&date=YYYY-MM-DD``: the body is the
  CLI's detail CSV (``text/csv``) or a PaymentReconciliation (``application/fhir+json``); a
  facility's system, for its own facility only.
- ``POST /fhir/PaymentReconciliation/$reconcile?facility=CODE&date=YYYY-MM-DD``: no body; an
  insurance auditor or operator, against the stored upload.

The results and uploads are read and searched through the generic FHIR API
(``GET /fhir/PaymentReconciliation?requestor=Organization/CODE``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from hub.auth.actor import Actor
from hub.auth.purpose import PurposeOfUse
from hub.auth.roles import Role
from hub.deps import CurrentActor, nested_deeper_than, read_body, unit_of_work
from hub.errors import FhirError, Forbidden, InvalidRequest
from hub.fhir.responses import FhirJsonResponse, fhir_response, outcome_response
from hub.fhir.router import FHIR_RESPONSES
from hub.settings import get_settings
from insurance.claims_audit import reconcile_fhir
from insurance.claims_audit.reconcile_service import (
    bad_details,
    rerun_reconciliation,
    upload_details,
)
from insurance.claims_audit.reconciliation import DetailFileError, LedgerLine, parse_details

router = APIRouter(
    prefix="/fhir",
    tags=["Insurance reconciliation"],
    responses=FHIR_RESPONSES,
    default_response_class=FhirJsonResponse,
)
FacilityParam = Annotated[str, Query(min_length=1, max_length=64, description="facility code")]
DayParam = Annotated[date, Query(alias="date", description="the local day (Asia/Shanghai)")]
RawBody = Annotated[bytes, Depends(read_body)]
CSV_TYPES = ("text/csv",)
JSON_TYPES = ("application/fhir+json", "application/json")
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": "UTF-8 CSV, header "
                    "setl_id,medfee_sumamt,fund_pay_sumamt,acct_pay,refd_setl_flag (yuan)",
                }
            },
            "application/fhir+json": {
                "schema": {
                    "type": "object",
                    "required": ["resourceType"],
                    "properties": {"resourceType": {"type": "string"}},
                    "description": "A PaymentReconciliation: requestor, period and detail",
                }
            },
        },
    }
}
RESULT_ERRORS: dict[int | str, dict[str, Any]] = {
    409: outcome_response("OperationOutcome: a concurrent upload of the same day"),
    415: outcome_response("OperationOutcome: neither text/csv nor application/fhir+json"),
    422: outcome_response("OperationOutcome: the file or resource names its bad row or element"),
}


def require_uploader(actor: Actor, facility: str) -> None:
    """Before the body is parsed: only a facility's system, for its own facility, claiming
    purpose HPAYMT (healthcare payment) as settlement does."""
    if actor.role is not Role.facility_system:
        raise Forbidden("reconciliation details are uploaded by the facility's system")
    if actor.facility != facility:
        raise Forbidden("a facility uploads its own reconciliation details only")
    if actor.purpose_of_use != PurposeOfUse.HPAYMT:
        raise Forbidden("reconciliation is payment: a token with purpose_of_use HPAYMT")


def _json(raw: bytes) -> Any:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from None
    if nested_deeper_than(body, get_settings().max_json_depth):
        raise InvalidRequest("the body nests JSON too deep", code="too-costly")
    return body


def parse_upload_body(
    content_type: str, raw: bytes, facility: str, day: date
) -> dict[str, LedgerLine]:
    """The details, whole or not at all: 422 naming the row or element, 415 for another type,
    403 for a PaymentReconciliation in another facility's name."""
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        if media in CSV_TYPES:
            return parse_details(raw)
        if media in JSON_TYPES:
            body = _json(raw)
            named = reconcile_fhir.requestor_of(body) if isinstance(body, dict) else ""
            if named and named != facility:
                raise Forbidden(f"the body's requestor is not Organization/{facility}")
            lines = reconcile_fhir.parse_upload(body, day)
            if not named:
                raise DetailFileError("PaymentReconciliation.requestor: the facility is required")
            return lines
    except DetailFileError as exc:
        raise bad_details(exc) from None
    raise FhirError(
        f"send text/csv or application/fhir+json, not {media or 'nothing'}",
        status=415,
        code="not-supported",
    )


@router.post(
    "/PaymentReconciliation/$upload",
    summary="A facility's day of 3202 details (CSV or PaymentReconciliation); the hub's result",
    openapi_extra=UPLOAD_BODY,
    responses={**RESULT_ERRORS, 413: outcome_response("OperationOutcome: the body is too large")},
)
def upload(
    request: Request, actor: CurrentActor, facility: FacilityParam, day: DayParam, raw: RawBody
) -> Response:
    require_uploader(actor, facility)
    details = parse_upload_body(request.headers.get("content-type", ""), raw, facility, day)
    with unit_of_work(actor) as store:
        result = upload_details(store, facility, day, details)
    return fhir_response(result)


@router.post(
    "/PaymentReconciliation/$reconcile",
    summary="Run a facility's day again against its stored upload (insurance auditors)",
    responses={409: RESULT_ERRORS[409], 422: RESULT_ERRORS[422]},
)
def rerun(actor: CurrentActor, facility: FacilityParam, day: DayParam) -> Response:
    with unit_of_work(actor) as store:
        result = rerun_reconciliation(store, facility, day)
    return fhir_response(result)
