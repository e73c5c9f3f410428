"""``GET /referral/stats``: the two-way referral report, for the hub's operators and the
health commission's reviewers (the auditor role: reads everything, changes nothing)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from hub.auth.roles import Role
from hub.auth.scopes import Interaction
from hub.deps import CurrentActor, unit_of_work
from hub.errors import Forbidden
from hub.fhir import access
from referral.report import referral_report

router = APIRouter(prefix="/referral", tags=["Referral"])
REPORT_READERS = frozenset({Role.operator, Role.auditor})


@router.get("/stats", summary="Two-way referral figures: counts, times, loop closure, overdue")
def referral_stats(
    actor: CurrentActor,
    since: Annotated[
        datetime | None, Query(description="only referrals made since (ISO 8601)")
    ] = None,
) -> JSONResponse:
    if actor.role not in REPORT_READERS:
        raise Forbidden("the referral report is for operators and the health commission (auditor)")
    access.require(actor, "Task", Interaction.search)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    with unit_of_work(actor) as store:
        report = referral_report(store, since=since)
    return JSONResponse(report)
