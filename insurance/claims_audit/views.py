"""``DetectedIssue/{id}/$review``: an insurance auditor confirms or dismisses a finding.

The findings themselves are read and searched through the generic FHIR API
(``GET /fhir/DetectedIssue?facility=...&code=...&status=...&identified=...``), which only
scopes naming DetectedIssue reach (insurance auditors, operators).

Body: a ``Parameters`` with ``outcome`` (valueCode ``confirmed`` | ``dismissed``), ``reason``
(valueString) and, for a confirmation, ``amount`` (valueMoney, CNY): what to recover.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from hub.deps import CurrentActor, JsonBody, unit_of_work
from hub.errors import InvalidRequest
from hub.fhir.responses import FhirJsonResponse, fhir_response
from hub.fhir.router import FHIR_RESPONSES
from insurance.claims_audit.detected_issue import Outcome, Review
from insurance.claims_audit.service import review_finding
from insurance.money import to_fen

router = APIRouter(
    prefix="/fhir",
    tags=["Insurance claims audit"],
    responses=FHIR_RESPONSES,
    default_response_class=FhirJsonResponse,
)


def _parameters(body: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise InvalidRequest("the body must be a Parameters resource")
    return {str(p.get("name")): p for p in body.get("parameter") or [] if isinstance(p, dict)}


def parse_review(body: Any, reviewer: str) -> Review:
    given = _parameters(body)
    try:
        outcome = Outcome(str((given.get("outcome") or {}).get("valueCode")))
    except ValueError:
        raise InvalidRequest(
            "outcome (valueCode) must be confirmed or dismissed", expression=["Parameters.outcome"]
        ) from None
    money = (given.get("amount") or {}).get("valueMoney") or {"value": 0, "currency": "CNY"}
    if money.get("currency", "CNY") != "CNY":
        raise InvalidRequest("amount is in CNY", expression=["Parameters.amount"])
    try:
        recover = to_fen(money.get("value", 0))
    except ValueError as exc:
        raise InvalidRequest(str(exc), expression=["Parameters.amount"]) from None
    reason = (given.get("reason") or {}).get("valueString")
    return Review(outcome, reason if isinstance(reason, str) else "", recover, reviewer)


@router.post(
    "/DetectedIssue/{issue_id}/$review",
    summary="Confirm or dismiss a claims-audit finding (insurance auditors)",
)
def review(issue_id: str, actor: CurrentActor, body: JsonBody) -> Response:
    reviewer = actor.client_id + (f" ({actor.practitioner})" if actor.practitioner else "")
    with unit_of_work(actor) as store:
        changed = review_finding(store, issue_id, parse_review(body, reviewer))
    return fhir_response(changed)
