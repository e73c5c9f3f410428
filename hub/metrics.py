"""``GET /metrics`` for Prometheus: this process's counters plus the message log's backlog.

Counters live per process (listener, API); the backlog is read from the database, so any API
replica reports the same cluster-wide figures. An API served by several worker processes sets
``PROMETHEUS_MULTIPROC_DIR`` (``scripts/stack`` does): each process writes its counters there
and any of them answers the scrape with the sum, instead of its own share.

The figures tell how busy each facility's feed is and where processing stalls, so they are
for those who run the hub: an operator token, or the static bearer secret
``HUB_METRICS_TOKEN`` given to a Prometheus scraper. Anything else is refused like any API call
(401 without a token, 403 for other roles), as an OperationOutcome.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.orm import Session

from hub.auth.roles import Role
from hub.db import session_scope
from hub.deps import bearer_scheme, current_actor
from hub.errors import Forbidden
from hub.settings import get_settings

router = APIRouter(tags=["Operations"])

# Exposition lines read from the database at each scrape, added by hub.wiring (the HL7 v2
# message log's backlog): the core does not import the adapters that own those tables.
BacklogLines = Callable[[Session], list[str]]
_backlogs: list[BacklogLines] = []


def add_backlog(lines: BacklogLines) -> None:
    """Report these lines at every scrape (idempotent for the same function)."""
    if lines not in _backlogs:
        _backlogs.append(lines)


async def metrics_reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    """Let through the scraper's static secret or an operator's access token."""
    secret = get_settings().metrics_token.encode()
    given = credentials.credentials.encode() if credentials else b""
    if secret and hmac.compare_digest(given, secret):  # HTTPBearer took only "Bearer" schemes
        return
    actor = await current_actor(request, credentials)  # 401 without a valid token
    if actor.role is not Role.operator:
        raise Forbidden("metrics are for operators (or the scraper's HUB_METRICS_TOKEN)")


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    include_in_schema=False,
    dependencies=[Depends(metrics_reader)],
)
def metrics() -> Response:
    lines: list[str] = []
    with session_scope() as session:
        for backlog in _backlogs:
            lines.extend(backlog(session))
    body = generate_latest(_registry()) + ("\n".join(lines) + "\n").encode()
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _registry() -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry
