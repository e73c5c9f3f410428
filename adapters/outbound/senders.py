"""Sending one outbox payload and classifying what came back.

Every attempt ends in one :class:`Outcome`:

- ``DELIVERED``: MLLP ACK AA or CA; HTTP 2xx.
- ``REFUSED``: the receiver read the message and said no (AE/AR, CE/CR with the ERR text;
  HTTP 4xx other than 408/429). Sending it again would get the same answer: dead-lettered.
- ``TRANSIENT``: nothing usable came back (connection refused or broken, timeout, an ACK
  that cannot be read or answers another message, HTTP 408/429/5xx): retried with backoff.

Senders keep one connection for a delivery round (``MllpSender`` one MLLP connection driven by
a private event loop, ``RestHookSender`` one httpx client) and must be closed. Error texts
name codes and exception types, never message content.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
import orjson

from adapters.hl7v2.charset import decode_message
from adapters.hl7v2.client import MllpClient, MllpError
from adapters.hl7v2.errors import Hl7Error
from adapters.hl7v2.parse import parse_message
from adapters.hl7v2.tls import client_context
from adapters.outbound.endpoints import FacilityEndpoint

MAX_ERROR = 500


class OutcomeKind(StrEnum):
    DELIVERED = "delivered"
    REFUSED = "refused"
    TRANSIENT = "transient"


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    ack_code: str = ""
    error: str = ""


def interpret_ack(raw: bytes, control_id: str) -> Outcome:
    """Classify an MLLP answer to the message whose MSH-10 is ``control_id``."""
    try:
        text, charset = decode_message(raw)
        ack = parse_message(text, charset)
    except (Hl7Error, ValueError) as exc:
        return Outcome(OutcomeKind.TRANSIENT, error=f"unreadable ACK: {type(exc).__name__}")
    msa = ack.first("MSA")
    if msa is None:
        return Outcome(OutcomeKind.TRANSIENT, error="ACK without MSA segment")
    code = msa.get(1).upper()
    if msa.get(2) != control_id:
        return Outcome(OutcomeKind.TRANSIENT, code[:2], "ACK answers another message (MSA-2)")
    if code in ("AA", "CA"):
        return Outcome(OutcomeKind.DELIVERED, code)
    if code in ("AE", "AR", "CE", "CR"):
        err = ack.first("ERR")
        detail = ""
        if err is not None:
            detail = " ".join(p for p in (err.get(3, 1), err.get(3, 2), err.get(8)) if p)
        detail = detail or msa.get(3)
        return Outcome(OutcomeKind.REFUSED, code, f"{code}: {detail}".strip()[:MAX_ERROR])
    return Outcome(OutcomeKind.TRANSIENT, code[:8], f"unknown acknowledgment code {code[:8]!r}")


class MllpSender:
    """One MLLP connection to a facility endpoint for a delivery round (blocking calls)."""

    def __init__(
        self,
        endpoint: FacilityEndpoint,
        timeout: float,
        ssl_factory: Any = client_context,
    ) -> None:
        host, port, tls = endpoint.mllp_target()
        context: ssl.SSLContext | None = ssl_factory() if tls else None
        self._timeout = timeout
        self._runner = asyncio.Runner()
        self._client = MllpClient(host, port, ssl_context=context, connect_timeout=timeout)

    def send(self, payload: bytes, control_id: str) -> Outcome:
        try:
            raw = self._runner.run(self._client.send(payload, self._timeout))
        except MllpError as exc:
            return Outcome(OutcomeKind.TRANSIENT, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR])
        outcome = interpret_ack(raw, control_id)
        if outcome.kind is OutcomeKind.TRANSIENT:
            self._runner.run(self._client.close())  # out of step: start the next one afresh
        return outcome

    def close(self) -> None:
        try:
            self._runner.run(self._client.close())
        finally:
            self._runner.close()


def _headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep and name.strip():
            headers[name.strip()] = value.strip()
    return headers


class RestHookSender:
    """R4 rest-hook notifications: a POST per outbox row, over one httpx client."""

    def __init__(self, timeout: float, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    def send(self, payload: bytes, control_id: str) -> Outcome:
        notification: dict[str, Any] = orjson.loads(payload)
        headers = _headers(notification.get("headers") or [])
        body = notification.get("body")
        content = b""
        if body is not None:
            content = orjson.dumps(body)
            headers.setdefault("Content-Type", str(notification.get("mime_type")))
        headers.setdefault("X-Hub-Notification-Id", control_id)
        try:
            response = self._client.post(str(notification["url"]), content=content, headers=headers)
        except httpx.HTTPError as exc:
            return Outcome(OutcomeKind.TRANSIENT, error=f"{type(exc).__name__}"[:MAX_ERROR])
        status = response.status_code
        error = f"HTTP {status} {response.reason_phrase}"[:MAX_ERROR]
        if 200 <= status < 300:
            return Outcome(OutcomeKind.DELIVERED, str(status))
        if status in (408, 429) or status >= 500:
            return Outcome(OutcomeKind.TRANSIENT, str(status), error)
        return Outcome(OutcomeKind.REFUSED, str(status), error)

    def close(self) -> None:
        self._client.close()
