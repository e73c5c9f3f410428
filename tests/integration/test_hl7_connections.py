"""Each facility's HL7 v2 connection as the operator's console shows it
(adapters/hl7v2/connections.py): last message, messages and failures in the window, dead letters;
every facility for operators and auditors, nothing for anyone else."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from adapters.hl7v2.connections import facility_connections
from adapters.hl7v2.models import InboxRow, MessageStatus
from hub.auth.actor import Actor
from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.db import session_scope
from hub.errors import Forbidden
from hub.security.fields import get_cipher

pytestmark = pytest.mark.usefixtures("database")


def actor(role: Role, facility: str = "HUB") -> Actor:
    return Actor.build(client_id=f"console-{role}", facility=facility, role=role,
                       scope=DEFAULT_SCOPES[role])  # fmt: skip


def log(facility: str, *statuses: MessageStatus, at: datetime) -> None:
    # Sealed like every stored message: other tests (key rotation) open every inbox row.
    raw = get_cipher().seal_bytes(b"MSH|^~\\&|connections-test")
    with session_scope() as session:
        session.execute(insert(InboxRow), [
            {"received_at": at, "facility_code": facility, "control_id": uuid.uuid4().hex,
             "dedup_id": uuid.uuid4().hex, "status": status.value, "raw": raw, "attempts": 0,
             "resources": "", "message_type": "ADT^A04"}
            for status in statuses
        ])  # fmt: skip


def test_the_operator_sees_each_facilitys_last_message_and_error_rate() -> None:
    healthy, failing = f"C{uuid.uuid4().hex[:6]}", f"C{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    log(healthy, MessageStatus.PROCESSED, MessageStatus.PROCESSED, at=now - timedelta(minutes=5))
    log(healthy, MessageStatus.DEAD, at=now - timedelta(days=3))  # outside the window
    S = MessageStatus
    log(failing, S.PROCESSED, S.DEAD, S.REJECTED, S.DEAD, at=now - timedelta(minutes=1))
    with session_scope() as session:
        found = {
            c.facility: c
            for c in facility_connections(
                session, actor(Role.operator), since=now - timedelta(days=1)
            )
        }
    ok, bad = found[healthy], found[failing]
    assert (ok.received, ok.failed, ok.dead, ok.error_rate) == (2, 0, 0, 0.0)
    assert (bad.received, bad.failed, bad.dead, bad.error_rate) == (4, 3, 2, 0.75)
    assert ok.last_message is not None and bad.last_message is not None
    assert abs((bad.last_message - (now - timedelta(minutes=1))).total_seconds()) < 1
    order = list(found)
    assert order.index(failing) < order.index(healthy)  # the most failing first


@pytest.mark.parametrize("role", [Role.practitioner, Role.facility_system, Role.insurance_auditor])
def test_no_facility_role_sees_every_facilitys_connections(role: Role) -> None:
    with session_scope() as session, pytest.raises(Forbidden):
        facility_connections(session, actor(role, "H001"), since=datetime.now(UTC))
