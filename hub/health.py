"""Liveness and readiness, for load balancers and orchestrators: unauthenticated, cheap, and
free of personal data (they say only which dependency is unreachable)."""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from hub.db import get_engine
from hub.settings import get_settings

router = APIRouter(tags=["Operations"])
log = logging.getLogger("hub.health")
BROKER_TIMEOUT_SECONDS = 1.0
DEFAULT_BROKER_PORTS = {"amqp": 5672, "amqps": 5671, "redis": 6379, "rediss": 6379}


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database (and the broker, if any) is reachable")
def readyz() -> JSONResponse:
    checks = {"database": _database_check()}
    broker_url = get_settings().celery_broker_url
    if broker_url:
        checks["broker"] = broker_check(broker_url)
    ready = all(state == "ok" for state in checks.values())
    body = {"status": "ready" if ready else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)


def _database_check() -> str:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("readiness: database unreachable (%s)", type(exc).__name__)
        return "unreachable"
    return "ok"


def broker_check(url: str) -> str:
    """A TCP connection to the broker: enough to tell a down broker, cheap at every probe."""
    parts = urlsplit(url)
    port = parts.port or DEFAULT_BROKER_PORTS.get(parts.scheme)
    if parts.hostname is None or port is None:
        return "ok"  # memory:// and other in-process transports
    try:
        with socket.create_connection((parts.hostname, port), timeout=BROKER_TIMEOUT_SECONDS):
            return "ok"
    except OSError:
        log.warning("readiness: broker unreachable")
        return "unreachable"
