"""Each facility's HL7 v2 connection as operators watch it: its last message, and how many of its
recent messages failed (dead letters, refused frames) out of how many it sent.

Read from the message log alone (``hl7_inbox``, grouped per facility in two statements: the
window's counts over the ``received_at`` index, the newest message per facility over the queue
index); only operators and auditors see every facility, and the look is audited like a search of
the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from adapters.hl7v2.models import InboxRow, MessageStatus
from hub.audit.service import AuditEntry, record_access
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.errors import Forbidden

UNKNOWN_SENDER = "-"  # frames refused before a facility was known (MSH-4 not believed)
FAILED = (MessageStatus.DEAD.value, MessageStatus.REJECTED.value)


@dataclass(frozen=True)
class Connection:
    facility: str
    last_message: datetime | None
    received: int  # messages in the window
    failed: int  # of which dead or rejected
    dead: int  # dead letters in the window, waiting for a replay

    @property
    def error_rate(self) -> float:
        return self.failed / self.received if self.received else 0.0


def facility_connections(session: Session, actor: Actor, *, since: datetime) -> list[Connection]:
    """Every facility that ever sent, with its figures since ``since``; the most failing first."""
    if actor.role not in (Role.operator, Role.auditor):
        raise Forbidden("every facility's connections are for operators and auditors")
    facility = func.coalesce(InboxRow.facility_code, UNKNOWN_SENDER)
    window = session.execute(
        select(
            facility,
            func.count(),
            func.sum(case((InboxRow.status.in_(FAILED), 1), else_=0)),
            func.sum(case((InboxRow.status == MessageStatus.DEAD.value, 1), else_=0)),
        )
        .where(InboxRow.received_at >= since)
        .group_by(facility)
    ).all()
    newest = dict(
        session.execute(select(facility, func.max(InboxRow.received_at)).group_by(facility)).all()
    )
    counts = {code: (int(n), int(failed or 0), int(dead or 0)) for code, n, failed, dead in window}
    record_access(session, AuditEntry(actor, "search-type", "HL7v2Message", [], []))
    connections = [
        Connection(code, last, *counts.get(code, (0, 0, 0))) for code, last in newest.items()
    ]
    return sorted(connections, key=lambda c: (-c.error_rate, -c.received, c.facility))
