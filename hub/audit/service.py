"""Recording audit records (linking them is :mod:`hub.audit.linking`, verifying
:mod:`hub.audit.verification`).

Services call ``record_access`` while they work; the entries wait on the session and are
written by ``flush_pending_audit`` right before the commit of the same transaction, so an
access is never committed without its record. Refused or failed requests, whose transaction
rolls back, are written by ``record_standalone`` in a transaction of their own.

What a record's hash covers, and the two hash schemes (unkeyed before migration 0009, HMAC-SHA256
since), are in :mod:`hub.audit.chain`; the signed checkpoints in :mod:`hub.audit.checkpoints`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Column, Dialect, Table, insert, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from hub.audit.chain import HashScheme
from hub.audit.models import AuditPatient, AuditRecord
from hub.auth.actor import Actor
from hub.db import new_session, run_before_commit, send_with_commit

PENDING_AUDIT = _PENDING = "hub_audit_pending"  # session.info key of unwritten entries
EMERGENCY_PURPOSE = "ETREAT"  # break-glass purpose of use (hub.auth.purpose.PurposeOfUse)

ACTION_BY_INTERACTION = {
    "create": "C",
    "update": "U",
    "delete": "D",
    "read": "R",
    "vread": "R",
    "history-instance": "R",
    "history-type": "R",
    "search-type": "E",
    "search-system": "E",
    "transaction": "E",
    "batch": "E",
    "operation": "E",
    "token": "E",
    "capabilities": "R",
}


@dataclass
class AuditEntry:
    actor: Actor
    interaction: str
    resource_type: str | None = None
    resources: list[str] = field(default_factory=list)
    patients: list[str] = field(default_factory=list)
    outcome: str = "0"
    outcome_text: str | None = None
    query_params: str | None = None
    recorded: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The consent decision ("permit", "deny", "permit-with-redaction"; None: none applied), the
    # consents it rested on ("Consent/id"), whether break-glass changed it, and what it withheld.
    decision: str | None = None
    consents: list[str] = field(default_factory=list)
    break_glass: bool = False
    break_glass_reason: str | None = None
    denied: list[str] = field(default_factory=list)


def record_access(session: Session, entry: AuditEntry) -> None:
    session.info.setdefault(_PENDING, []).append(entry)


def discard_pending_audit(session: Session) -> list[AuditEntry]:
    entries: list[AuditEntry] = session.info.pop(_PENDING, [])
    return entries


def _entry_row(entry: AuditEntry, seq: int) -> dict[str, object]:
    actor = entry.actor
    return {
        "seq": seq,
        "recorded": entry.recorded.astimezone(UTC).isoformat(),
        "client_id": actor.client_id,
        "facility": actor.facility,
        "role": str(actor.role),
        "purpose_of_use": actor.purpose_of_use,
        "action": ACTION_BY_INTERACTION.get(entry.interaction, "E"),
        "interaction": entry.interaction,
        "resource_type": entry.resource_type,
        "resources": json.dumps(entry.resources[:500]),
        "patients": json.dumps(sorted(set(entry.patients))[:500]),
        "outcome": entry.outcome,
        "outcome_text": entry.outcome_text[:255] if entry.outcome_text else None,
        "source_address": actor.source_address,
        "query_params": entry.query_params[:512] if entry.query_params else None,
        "decision": entry.decision,
        "consents": json.dumps(entry.consents[:500]) if entry.consents else None,
        "break_glass": entry.break_glass,
        "break_glass_reason": _reason(entry),
        "denied": json.dumps(entry.denied[:500]) if entry.denied else None,
        "practitioner": actor.practitioner,
    }


def _reason(entry: AuditEntry) -> str | None:
    """The break-glass reason; any emergency (ETREAT) access keeps the token's reason."""
    reason = entry.break_glass_reason
    if reason is None and entry.actor.purpose_of_use == EMERGENCY_PURPOSE:
        reason = entry.actor.purpose_reason
    return reason[:255] if reason else None


def flush_pending_audit(session: Session) -> None:
    entries = discard_pending_audit(session)
    if entries:
        write_entries(session, entries)


@run_before_commit  # on import: entries can only be pending once this module is loaded
def append_pending_audit_at_commit(session: Session) -> None:
    """The transaction's audit records, appended as it commits: on PostgreSQL in the same
    round trip as the COMMIT (a FHIR read is then two round trips, not three)."""
    entries = discard_pending_audit(session)
    if entries:
        write_entries(session, entries, with_commit=True)


_LOG = cast(Table, AuditRecord.__table__)
_PATIENTS = cast(Table, AuditPatient.__table__)
_INSERT_RECORDS, _INSERT_PATIENTS = insert(_LOG), insert(_PATIENTS)
_HASH_COLUMNS = ("seq", "prev_hash", "hash")  # the chainer's (seq from the sequence)
_RECORD_COLUMNS = [c for c in _LOG.columns if c.name not in _HASH_COLUMNS]
CHAIN_WAITING = "hub_audit_chain_waiting"  # session.info: records committed here wait linking


def _unbounded(column: Column[Any]) -> str:
    """The column's PostgreSQL type without a length: over-long values fail, never truncate."""
    dialect: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return re.sub(r"\(\d+\)", "", column.type.compile(dialect=dialect))


# One statement with a fixed text: the records numbered from the column's sequence (a CTE with
# a volatile function is evaluated once), inserted with their audit_patient rows, which find
# their record's number by position.
_APPEND_POSTGRES = text(
    "WITH numbered AS (SELECT nextval('audit_log_seq_seq') AS seq, u.* FROM unnest("
    + ", ".join(f"CAST(:a_{c.name} AS {_unbounded(c)}[])" for c in _RECORD_COLUMNS)
    + ") WITH ORDINALITY AS u("
    + ", ".join(c.name for c in _RECORD_COLUMNS)
    + ", ord)), new_records AS (INSERT INTO audit_log (seq, "
    + ", ".join(c.name for c in _RECORD_COLUMNS)
    + ") SELECT seq, "
    + ", ".join(c.name for c in _RECORD_COLUMNS)
    + " FROM numbered RETURNING seq) "
    "INSERT INTO audit_patient (seq, patient_id) SELECT numbered.seq, links.patient_id "
    "FROM numbered JOIN unnest(CAST(:link_ord AS BIGINT[]), CAST(:link_patient AS VARCHAR[])) "
    "AS links(ord, patient_id) ON links.ord = numbered.ord"
)
# SQLite has one writer at a time: the next number is read inside the writing transaction,
# past the linked head too (a prune may have removed every record).
_NEXT_SQLITE = text(
    "SELECT MAX(m) FROM (SELECT MAX(seq) AS m FROM audit_log "
    "UNION ALL SELECT last_seq FROM audit_head UNION ALL SELECT 0)"
)


def write_entries(
    session: Session, entries: Iterable[AuditEntry], *, with_commit: bool = False
) -> None:
    """Append ``entries`` in the session's transaction, numbered and not yet hashed.

    No lock and no read of the chain: the chainer (:mod:`hub.audit.linking`) hashes them after
    commit, in order, and signs the interval checkpoints among them. ``with_commit``: the
    transaction is about to commit; on PostgreSQL the statement travels with its COMMIT.
    """
    entries = list(entries)
    rows = [_entry_row(entry, 0) for entry in entries]
    if not rows:
        return
    session.flush()
    connection = session.connection()
    patient_lists = [sorted(set(entry.patients)) for entry in entries]
    scheme = int(HashScheme.HMAC_SHA256)
    for row, entry in zip(rows, entries, strict=True):
        row.update(recorded=entry.recorded, hash_scheme=scheme)
    if connection.dialect.name == "postgresql":
        columns = {f"a_{c.name}": [row.get(c.name) for row in rows] for c in _RECORD_COLUMNS}
        links = {
            "link_ord": [n for n, ps in enumerate(patient_lists, 1) for _ in ps],
            "link_patient": [p for ps in patient_lists for p in ps],
        }
        params = {**columns, **links}
        if not (with_commit and send_with_commit(session, _APPEND_POSTGRES, params)):
            connection.execute(_APPEND_POSTGRES, params)
    else:
        first = int(connection.execute(_NEXT_SQLITE).scalar_one()) + 1
        for seq, row in enumerate(rows, first):
            row["seq"] = seq
        connection.execute(_INSERT_RECORDS, rows)
        patient_rows = [
            {"seq": seq, "patient_id": p} for seq, ps in enumerate(patient_lists, first) for p in ps
        ]
        if patient_rows:
            connection.execute(_INSERT_PATIENTS, patient_rows)
    session.info[CHAIN_WAITING] = True


def record_standalone(entry: AuditEntry) -> None:
    """Write one record in its own transaction (for refused or failed requests)."""
    session = new_session()
    try:
        write_entries(session, [entry])
        session.commit()
    finally:
        session.close()
