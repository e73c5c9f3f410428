"""Recording audit records (verifying the chain is :mod:`hub.audit.verification`).

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

from sqlalchemy import Column, Connection, Dialect, Table, bindparam, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.audit.chain import (
    HashScheme,
    hashed_row,
    keyed_row_hash,
)
from hub.audit.checkpoints import (
    CHECKPOINT_INTERVAL,
    CheckpointKind,
    signed_checkpoint,
)
from hub.audit.keys import audit_hmac_key
from hub.audit.models import GENESIS_HASH, AuditCheckpoint, AuditHead, AuditPatient, AuditRecord
from hub.auth.actor import Actor
from hub.db import new_session, run_before_commit

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


@run_before_commit  # on import: entries can only be pending once this module is loaded
def flush_pending_audit(session: Session) -> None:
    entries = discard_pending_audit(session)
    if entries:
        write_entries(session, entries)


_HEAD = cast(Table, AuditHead.__table__)
_LOG = cast(Table, AuditRecord.__table__)
_PATIENTS = cast(Table, AuditPatient.__table__)
_CHECKPOINTS = cast(Table, AuditCheckpoint.__table__)
_LOCK_HEAD = select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == 1).with_for_update()
_ADVANCE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(last_seq=bindparam("new_seq"), last_hash=bindparam("new_hash"))
)
_INSERT_RECORDS, _INSERT_PATIENTS = insert(_LOG), insert(_PATIENTS)
_INSERT_CHECKPOINTS = insert(_CHECKPOINTS)
_RECORD_COLUMNS = [c.name for c in _LOG.columns]
_CHECKPOINT_COLUMNS = [c for c in _CHECKPOINTS.columns if c.name != "id"]


def _unbounded(column: Column[Any]) -> str:
    """The column's PostgreSQL type without a length: over-long values fail, never truncate."""
    dialect: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return re.sub(r"\(\d+\)", "", column.type.compile(dialect=dialect))


_APPEND_POSTGRES = text(
    "WITH new_records AS (INSERT INTO audit_log ("
    + ", ".join(_RECORD_COLUMNS)
    + ") SELECT * FROM unnest("
    + ", ".join(f"CAST(:a_{c.name} AS {_unbounded(c)}[])" for c in _LOG.columns)
    + ") RETURNING seq), new_links AS (INSERT INTO audit_patient (seq, patient_id) "
    "SELECT * FROM unnest(CAST(:link_seq AS BIGINT[]), CAST(:link_patient AS VARCHAR[])) "
    "RETURNING seq), new_checkpoints AS (INSERT INTO audit_checkpoint ("
    + ", ".join(c.name for c in _CHECKPOINT_COLUMNS)
    + ") SELECT * FROM unnest("
    + ", ".join(f"CAST(:c_{c.name} AS {_unbounded(c)}[])" for c in _CHECKPOINT_COLUMNS)
    + ") RETURNING seq) "
    "UPDATE audit_head SET last_seq = :new_seq, last_hash = :new_hash WHERE id = 1"
)


def _start_chain(dialect: str) -> Any:
    values = {"id": 1, "last_seq": 0, "last_hash": GENESIS_HASH}
    if dialect == "postgresql":
        return postgresql.insert(_HEAD).values(**values).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(_HEAD).values(**values).on_conflict_do_nothing()
    return insert(_HEAD).values(**values)


def _locked_head(connection: Connection) -> tuple[int, str] | None:
    row = connection.execute(_LOCK_HEAD).first()
    return None if row is None else (row.last_seq, row.last_hash)


def write_entries(
    session: Session,
    entries: Iterable[AuditEntry],
    *,
    checkpoint_interval: int = CHECKPOINT_INTERVAL,
) -> None:
    """Append ``entries`` to the chain, HMAC-hashed, with an interval checkpoint where one falls.

    No query besides the head lock and the writes themselves: the keys are loaded once per
    process, and a checkpoint (one signature) falls on one record in ``checkpoint_interval``.
    Only tests pass another interval, and then verify with the same.
    """
    # Core statements on the session's connection: the chain tip stays locked for as short a
    # time as the statements take, without ORM bookkeeping in between.
    session.flush()
    key = audit_hmac_key()
    connection = session.connection()
    head = _locked_head(connection)
    if head is None:
        # The very first records: concurrent writers may race to start the chain. An insert that
        # ignores the conflict never aborts the transaction (a failed plain INSERT would on
        # PostgreSQL); whoever loses then waits on the winner's row lock below.
        connection.execute(_start_chain(connection.dialect.name))
        head = _locked_head(connection)
        assert head is not None
    seq, prev = head
    rows: list[dict[str, object]] = []
    patient_rows: list[dict[str, object]] = []
    checkpoints: list[dict[str, object]] = []
    for entry in entries:
        seq += 1
        row = _entry_row(entry, seq)
        patients = set(entry.patients)
        digest = keyed_row_hash(key, prev, hashed_row(row), patients)
        scheme = int(HashScheme.HMAC_SHA256)
        rows.append(
            dict(row, recorded=entry.recorded, prev_hash=prev, hash=digest, hash_scheme=scheme)
        )
        patient_rows.extend({"seq": seq, "patient_id": p} for p in patients)
        if seq % checkpoint_interval == 0:
            checkpoints.append(signed_checkpoint(seq, digest, CheckpointKind.INTERVAL))
        prev = digest
    advance = {"new_seq": seq, "new_hash": prev}
    if connection.dialect.name == "postgresql":
        # One statement with a fixed text (data-modifying CTEs over arrays) instead of several:
        # every round trip made while the chain tip is locked is paid by every waiting writer.
        columns = {f"a_{name}": [row[name] for row in rows] for name in _RECORD_COLUMNS}
        links = {
            "link_seq": [link["seq"] for link in patient_rows],
            "link_patient": [link["patient_id"] for link in patient_rows],
        }
        signed = {f"c_{c.name}": [cp[c.name] for cp in checkpoints] for c in _CHECKPOINT_COLUMNS}
        connection.execute(_APPEND_POSTGRES, {**columns, **links, **signed, **advance})
    else:
        connection.execute(_INSERT_RECORDS, rows)
        if patient_rows:
            connection.execute(_INSERT_PATIENTS, patient_rows)
        if checkpoints:
            connection.execute(_INSERT_CHECKPOINTS, checkpoints)
        connection.execute(_ADVANCE_HEAD, advance)
    loaded = session.identity_map.get(session.identity_key(AuditHead, 1))
    if loaded is not None:
        session.expire(loaded)  # the ORM copy, if any, is stale now


def record_standalone(entry: AuditEntry) -> None:
    """Write one record in its own transaction (for refused or failed requests)."""
    session = new_session()
    try:
        write_entries(session, [entry])
        session.commit()
    finally:
        session.close()
