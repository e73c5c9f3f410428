"""What the operator's tests act on: a dead letter of H001 that processes once replayed, and a
break-glass access awaiting review, written as the hub would."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from adapters.hl7v2.models import InboxRow, MessageStatus
from hub.audit.models import AuditRecord
from hub.audit.service import EMERGENCY_PURPOSE, AuditEntry, record_standalone
from hub.auth.actor import Actor
from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.db import session_scope
from tests.integration.hl7_harness import IdleDispatcher, make_dead_letter, running_gateway


def _send(message: bytes) -> None:
    with running_gateway(dispatcher=IdleDispatcher()) as gateway:
        gateway.send(message)


def dead_letter() -> int:
    """An ADT^A04 of H001 accepted but never processed, then dead-lettered (as if its mapping
    had failed for good): replayed, it processes."""
    control = f"OPS{uuid.uuid4().hex[:12]}"
    message = (
        f"MSH|^~\\&|HIS|YC_H001|HUB|YICHANG|20261201090000||ADT^A04^ADT_A01|{control}|P|2.5"
        f"|||||CHN|UNICODE UTF-8\rPID|1||MRN-{control}^^^YC_H001^MR||王^小明||19900101|M\r"
    ).encode()
    # in a thread of its own: Playwright's sync API holds this thread's event loop
    with ThreadPoolExecutor(1) as pool:
        pool.submit(_send, message).result()
    with session_scope() as session:
        row_id = session.execute(
            select(InboxRow.id).where(InboxRow.control_id == control)
        ).scalar_one()
    make_dead_letter(row_id)
    return int(row_id)


def status_of(row_id: int) -> str:
    with session_scope() as session:
        return str(session.get(InboxRow, row_id).status)  # type: ignore[union-attr]


def wait_processed(row_id: int, timeout: float = 30) -> str:
    """The message's status once the hub's in-process worker took the replay."""
    deadline = time.monotonic() + timeout
    while status_of(row_id) == MessageStatus.RECEIVED.value and time.monotonic() < deadline:
        time.sleep(0.2)
    return status_of(row_id)


def break_glass_access() -> int:
    """An emergency access by an H002 practitioner, awaiting review."""
    actor = Actor.build(
        client_id="ed-app",
        facility="H002",
        role=Role.practitioner,
        scope=DEFAULT_SCOPES[Role.practitioner],
        purpose_of_use=EMERGENCY_PURPOSE,
        purpose_reason="昏迷急诊 unconscious",
        practitioner="Practitioner/ed-1",
    )
    reason = f"urgent-{uuid.uuid4().hex[:8]}"
    record_standalone(
        AuditEntry(
            actor,
            "read",
            "Patient",
            ["Patient/bg-1"],
            ["Patient/bg-1"],
            break_glass=True,
            break_glass_reason=reason,
        )
    )
    with session_scope() as session:
        return int(
            session.execute(
                select(AuditRecord.seq).where(AuditRecord.break_glass_reason == reason)
            ).scalar_one()
        )


def a_finding(rule: str = "duplicate-charge") -> None:
    """A claims-audit finding identified now (what the fund's rules would write), by an
    operator: the findings-by-rule chart has something to draw."""
    from datetime import UTC, datetime

    from hub.fhir.store import FhirStore
    from hub.security.fields import get_cipher
    from insurance.claims_audit.codes import RULE_SYSTEM

    operator = Actor.build(client_id="ops-finding", facility="HUB", role=Role.operator,
                           scope=DEFAULT_SCOPES[Role.operator])  # fmt: skip
    with session_scope() as session:
        FhirStore(session, operator, get_cipher()).create("DetectedIssue", {
            "resourceType": "DetectedIssue", "status": "preliminary",
            "code": {"coding": [{"system": RULE_SYSTEM, "code": rule}]},
            "identifiedDateTime": datetime.now(UTC).isoformat(),
        })  # fmt: skip
