"""``/audit/break-glass``: emergency accesses for after-the-fact review (JSON, not FHIR).

``GET /audit/break-glass?since=&unreviewed=&_count=&_offset=`` (operators, auditors) lists them
newest first; ``POST /audit/break-glass/{seq}/review`` with ``{"note": "..."}`` (operators)
marks one reviewed. Both are audited like any other access.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hub.audit.review import list_break_glass, parse_since, review_break_glass
from hub.audit.service import AuditEntry, record_access
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.auth.scopes import Interaction
from hub.db import session_scope
from hub.deps import CurrentActor, JsonBody, RowId
from hub.errors import Forbidden, InvalidRequest
from hub.fhir import access
from hub.fhir.search.params import int_param
from hub.settings import get_settings

router = APIRouter(prefix="/audit/break-glass", tags=["Audit"])
REVIEWERS = frozenset({Role.operator, Role.auditor})


def _require_role(actor: Actor, roles: frozenset[Role], interaction: Interaction) -> None:
    if actor.role not in roles:
        raise Forbidden("break-glass review is for " + " and ".join(sorted(roles)) + "s")
    access.require(actor, "AuditEvent", interaction)


@router.get("", summary="Break-glass accesses for review, newest first")
def break_glass_accesses(request: Request, actor: CurrentActor) -> JSONResponse:
    _require_role(actor, REVIEWERS, Interaction.search)
    given = dict(request.query_params.multi_items())
    unknown = set(given) - {"since", "unreviewed", "_count", "_offset"}
    if unknown:
        raise InvalidRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    settings = get_settings()
    count = min(int_param("_count", given.get("_count") or "50", 1, 10**9), settings.max_page_size)
    offset = int_param("_offset", given.get("_offset") or "0", 0, 10_000_000)
    since = parse_since(given["since"]) if given.get("since") else None
    unreviewed = given.get("unreviewed", "false").lower() in ("true", "1", "yes")
    with session_scope() as session:
        total, page = list_break_glass(
            db_session=session,
            since=since,
            unreviewed_only=unreviewed,
            offset=offset,
            count=count,
        )
        record_access(
            session,
            AuditEntry(
                actor,
                "search-type",
                "AuditEvent",
                [f"AuditEvent/{item.seq}" for item in page],
                query_params=",".join(sorted(given)) or None,
            ),
        )
    body: dict[str, Any] = {"total": total, "items": [item.as_json() for item in page]}
    if offset + len(page) < total:
        params = dict(given, _offset=str(offset + len(page)), _count=str(count))
        body["next"] = str(request.url.replace_query_params(**params))
    return JSONResponse(body)


@router.post(
    "/{seq}/review", status_code=201, summary="Mark a break-glass access reviewed, with a note"
)
def review_access(seq: RowId, body: JsonBody, actor: CurrentActor) -> JSONResponse:
    _require_role(actor, frozenset({Role.operator}), Interaction.search)
    note = body.get("note") if isinstance(body, dict) else None
    if not isinstance(note, str):
        raise InvalidRequest('the body must be {"note": "..."}')
    with session_scope() as session:
        review = review_break_glass(db_session=session, seq=seq, reviewer=actor, note=note)
        record_access(session, AuditEntry(actor, "operation", "AuditEvent", [f"AuditEvent/{seq}"]))
    return JSONResponse({"seq": seq, "review": review.as_json()}, status_code=201)
