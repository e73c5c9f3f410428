"""``GET /metrics`` for Prometheus: this process's counters plus the message log's backlog.

Counters live per process (listener, API); the backlog is read from the database, so any API
replica reports the same cluster-wide figures.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from adapters.hl7v2.messages import status_counts
from adapters.hl7v2.models import MessageStatus
from hub.db import session_scope

router = APIRouter(tags=["Operations"])


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
def metrics() -> Response:
    with session_scope() as session:
        counts = status_counts(session)
    lines = [
        "# HELP hub_hl7_inbox_messages Messages in the HL7 v2 message log, by status",
        "# TYPE hub_hl7_inbox_messages gauge",
    ]
    for status in MessageStatus:
        lines.append(f'hub_hl7_inbox_messages{{status="{status.value}"}} {counts.get(status, 0)}')
    body = generate_latest() + ("\n".join(lines) + "\n").encode()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
