"""Recording and verifying audit records.

Services call ``record_access`` while they work; the entries wait on the session and are
written by ``flush_pending_audit`` right before the commit of the same transaction, so an
access is never committed without its record. Refused or failed requests, whose transaction
rolls back, are written by ``record_standalone`` in a transaction of their own.

The consent fields (``decision`` ... ``denied``, migration 0008) enter the hashed row only when
set, so records written before them hash, and verify, exactly as they did.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Column, Connection, Dialect, Table, bindparam, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.audit.models import GENESIS_HASH, AuditHead, AuditPatient, AuditRecord
from hub.auth.actor import Actor

PENDING_AUDIT = _PENDING = "hub_audit_pending"  # session.info key of unwritten entries
EMERGENCY_PURPOSE = "ETREAT"  # break-glass purpose of use (hub.auth.purpose.PurposeOfUse)
CONSENT_COLUMNS = ("decision", "consents", "break_glass", "break_glass_reason", "denied")

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


def _canonical(row: dict[str, object]) -> bytes:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode()


def row_hash(prev_hash: str, row: dict[str, object]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"|" + _canonical(row)).hexdigest()


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
    }


def _reason(entry: AuditEntry) -> str | None:
    """The break-glass reason; any emergency (ETREAT) access keeps the token's reason."""
    reason = entry.break_glass_reason
    if reason is None and entry.actor.purpose_of_use == EMERGENCY_PURPOSE:
        reason = entry.actor.purpose_reason
    return reason[:255] if reason else None


def hashed_row(row: dict[str, object]) -> dict[str, object]:
    """What the hash covers: the consent columns only when set (older rows have them unset)."""
    return {
        k: v
        for k, v in row.items()
        if k not in ("prev_hash", "hash") and not (k in CONSENT_COLUMNS and v in (None, False))
    }


def record_row(rec: AuditRecord) -> dict[str, object]:
    """A stored record's hashed row, as :func:`write_entries` hashed it."""
    row = {c: getattr(rec, c) for c in _entry_columns()}
    row["recorded"] = rec.recorded.astimezone(UTC).isoformat()
    return hashed_row(row)


def flush_pending_audit(session: Session) -> None:
    entries = discard_pending_audit(session)
    if entries:
        write_entries(session, entries)


_HEAD = cast(Table, AuditHead.__table__)
_LOG = cast(Table, AuditRecord.__table__)
_PATIENTS = cast(Table, AuditPatient.__table__)
_LOCK_HEAD = select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == 1).with_for_update()
_ADVANCE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(last_seq=bindparam("new_seq"), last_hash=bindparam("new_hash"))
)
_INSERT_RECORDS, _INSERT_PATIENTS = insert(_LOG), insert(_PATIENTS)
_RECORD_COLUMNS = [c.name for c in _LOG.columns]


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
    "RETURNING seq) "
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


def write_entries(session: Session, entries: Iterable[AuditEntry]) -> None:
    # Core statements on the session's connection: the chain tip stays locked for as short a
    # time as the statements take, without ORM bookkeeping in between.
    session.flush()
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
    for entry in entries:
        seq += 1
        row = _entry_row(entry, seq)
        digest = row_hash(prev, hashed_row(row))
        stored = dict(row, recorded=entry.recorded, prev_hash=prev, hash=digest)
        rows.append(stored)
        patient_rows.extend({"seq": seq, "patient_id": p} for p in set(entry.patients))
        prev = digest
    advance = {"new_seq": seq, "new_hash": prev}
    if connection.dialect.name == "postgresql":
        # One statement with a fixed text (data-modifying CTEs over arrays) instead of three:
        # every round trip made while the chain tip is locked is paid by every waiting writer.
        columns = {f"a_{name}": [row[name] for row in rows] for name in _RECORD_COLUMNS}
        links = {
            "link_seq": [link["seq"] for link in patient_rows],
            "link_patient": [link["patient_id"] for link in patient_rows],
        }
        connection.execute(_APPEND_POSTGRES, {**columns, **links, **advance})
    else:
        connection.execute(_INSERT_RECORDS, rows)
        if patient_rows:
            connection.execute(_INSERT_PATIENTS, patient_rows)
        connection.execute(_ADVANCE_HEAD, advance)
    loaded = session.identity_map.get(session.identity_key(AuditHead, 1))
    if loaded is not None:
        session.expire(loaded)  # the ORM copy, if any, is stale now


def record_standalone(entry: AuditEntry) -> None:
    """Write one record in its own transaction (for refused or failed requests)."""
    from hub.db import new_session

    session = new_session()
    try:
        write_entries(session, [entry])
        session.commit()
    finally:
        session.close()


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str


def verify_chain(session: Session, batch: int = 5000) -> Iterator[ChainProblem]:
    """Recompute every hash in order; yield each break (edited, inserted or deleted records).

    The chain starts at the head's anchor: the genesis hash, or the last record pruned.
    """
    anchor = session.execute(
        select(AuditHead.anchor_seq, AuditHead.anchor_hash).where(AuditHead.id == 1)
    ).first()
    anchor_seq, prev = (0, GENESIS_HASH) if anchor is None else (anchor[0], anchor[1])
    expected_seq, last = anchor_seq + 1, anchor_seq
    offset_seq = anchor_seq
    # A moved anchor must be attested by the prune record written in the chain after it.
    attestation, attested = anchor_attestation(anchor_seq, prev), anchor_seq == 0
    while True:
        records = (
            session.execute(
                select(AuditRecord)
                .where(AuditRecord.seq > offset_seq)
                .order_by(AuditRecord.seq)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not records:
            break
        for rec in records:
            if rec.seq != expected_seq:
                yield ChainProblem(rec.seq, f"records {expected_seq}..{rec.seq - 1} are missing")
            if rec.prev_hash != prev:
                yield ChainProblem(rec.seq, "previous-hash link broken")
            if row_hash(rec.prev_hash, record_row(rec)) != rec.hash:
                yield ChainProblem(rec.seq, "content does not match its hash (edited)")
            prev, expected_seq, last = rec.hash, rec.seq + 1, rec.seq
            attested = attested or rec.outcome_text == attestation
        offset_seq = records[-1].seq
        session.expunge_all()
    if not attested:
        yield ChainProblem(anchor_seq, "no prune record attests the anchor (records removed)")
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_seq != last or head.last_hash != prev):
        yield ChainProblem(last, "chain tip does not match the head (records deleted at the end)")


def anchor_attestation(anchor_seq: int, anchor_hash: str) -> str:
    """The outcome text of the prune record that moved the chain's anchor here."""
    return f"pruned up to record {anchor_seq}; chain anchor {anchor_hash}"


def _entry_columns() -> list[str]:
    return [
        "seq",
        "recorded",
        "client_id",
        "facility",
        "role",
        "purpose_of_use",
        "action",
        "interaction",
        "resource_type",
        "resources",
        "patients",
        "outcome",
        "outcome_text",
        "source_address",
        "query_params",
        *CONSENT_COLUMNS,
    ]
