"""The request id every API log line carries, and JSON log lines for a log shipper.

nginx names each request (``X-Request-ID: $request_id``); the hub keeps that id, or makes one
when a client came without a proxy, answers with it, and puts it on every log record written
while the request runs, so one grep joins the proxy's access log to the hub's lines.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

REQUEST_ID_HEADER = "x-request-id"
# What the hub accepts as an id from outside: nginx's 32 hex digits, a UUID, a short token;
# anything else (long, or with characters that could forge log lines) is replaced.
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_current: ContextVar[str] = ContextVar("request_id", default="-")


def request_id_from(header: str | None) -> str:
    """The id to use for a request that arrived with ``header`` (None: it had none)."""
    if header and _ACCEPTED_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def set_request_id(value: str) -> object:
    return _current.set(value)


def reset_request_id(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def current_request_id() -> str:
    return _current.get()


class RequestIdFilter(logging.Filter):
    """Put the current request id on each record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, exception.

    Hand-written (a dozen lines) rather than a dependency: python-json-logger would do the
    same, and nothing else here needs it."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", _current.get()),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
