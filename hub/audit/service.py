"""Recording and verifying audit records.

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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Column, Connection, Dialect, Table, bindparam, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.audit.chain import (
    ChainProblem,
    HashScheme,
    UnknownHashScheme,
    anchor_attestation,
    hashed_row,
    keyed_row_hash,
    record_hash,
)
from hub.audit.checkpoints import (
    CHECKPOINT_INTERVAL,
    CheckpointKind,
    SignedCheckpoints,
    load_signed_checkpoints,
    missing_interval_checkpoints,
    signed_checkpoint,
)
from hub.audit.keys import audit_hmac_key, checkpoint_public_keys
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


def verify_chain(
    session: Session, batch: int = 5000, *, checkpoint_interval: int = CHECKPOINT_INTERVAL
) -> Iterator[ChainProblem]:
    """Recompute every hash in order; yield each break, named by the first record concerned.

    Detected: records edited, inserted or deleted; ``audit_patient`` rows added, removed or
    changed (keyed records); an unkeyed record after the signed legacy boundary (a downgrade); a
    checkpoint not signed by a trusted key; a chain that no longer passes through a signed
    checkpoint (rewritten with the HMAC key, or records deleted at the end up to a checkpoint);
    a missing interval checkpoint; an anchor that no prune attests (or, for a prune since
    migration 0009, that no signed checkpoint vouches for).

    The chain starts at the head's anchor: the genesis hash, or the last record pruned.
    """
    key = audit_hmac_key()
    signed, problems = load_signed_checkpoints(session, checkpoint_public_keys())
    yield from problems
    anchor = session.execute(
        select(AuditHead.anchor_seq, AuditHead.anchor_hash).where(AuditHead.id == 1)
    ).first()
    anchor_seq, anchor_hash = (0, GENESIS_HASH) if anchor is None else (anchor[0], anchor[1])
    prev, expected_seq, last = anchor_hash, anchor_seq + 1, anchor_seq
    # A moved anchor must be attested by the prune record written in the chain after it.
    attestation, attested_by = anchor_attestation(anchor_seq, anchor_hash), None
    vouched: set[int] = set()
    for rec, patients in _records_with_patients(session, anchor_seq, batch):
        if rec.seq != expected_seq:
            yield ChainProblem(rec.seq, f"records {expected_seq}..{rec.seq - 1} are missing")
        if rec.prev_hash != prev:
            yield ChainProblem(rec.seq, "previous-hash link broken")
        yield from _record_problems(rec, patients, key, signed)
        if rec.seq in signed.hashes:
            vouched.add(rec.seq)
        if attested_by is None and rec.outcome_text == attestation:
            attested_by = rec.hash_scheme
        prev, expected_seq, last = rec.hash, rec.seq + 1, rec.seq
    yield from _checkpoint_problems(signed, vouched, anchor_seq, anchor_hash, last)
    for seq in missing_interval_checkpoints(
        signed, after=max(signed.legacy_seq, anchor_seq), upto=last, interval=checkpoint_interval
    ):
        yield ChainProblem(seq, "no signed checkpoint at this record (checkpoint deleted)")
    if anchor_seq and attested_by is None:
        yield ChainProblem(anchor_seq, "no prune record attests the anchor (records removed)")
    elif attested_by == HashScheme.HMAC_SHA256 and anchor_hash not in signed.hashes.get(
        anchor_seq, ()
    ):
        yield ChainProblem(anchor_seq, "no signed checkpoint vouches for the anchor (removed)")
    head = session.get(AuditHead, 1)
    if head is None and last > anchor_seq:
        yield ChainProblem(last, "the chain head is missing")
    if head is not None and (head.last_seq != last or head.last_hash != prev):
        yield ChainProblem(last, "chain tip does not match the head (records deleted at the end)")


def _records_with_patients(
    session: Session, after: int, batch: int
) -> Iterator[tuple[AuditRecord, list[str]]]:
    """The records after ``after`` in order, each with its ``audit_patient`` rows."""
    while True:
        records = (
            session.execute(
                select(AuditRecord)
                .where(AuditRecord.seq > after)
                .order_by(AuditRecord.seq)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not records:
            return
        links = session.execute(
            select(AuditPatient.seq, AuditPatient.patient_id).where(
                AuditPatient.seq > after, AuditPatient.seq <= records[-1].seq
            )
        )
        patients: dict[int, list[str]] = {}
        for seq, patient_id in links:
            patients.setdefault(seq, []).append(patient_id)
        for rec in records:
            yield rec, patients.get(rec.seq, [])
        after = records[-1].seq
        session.expunge_all()


def _record_problems(
    rec: AuditRecord, patients: list[str], key: bytes, signed: SignedCheckpoints
) -> Iterator[ChainProblem]:
    due = HashScheme.SHA256 if rec.seq <= signed.legacy_seq else HashScheme.HMAC_SHA256
    if rec.hash_scheme != due:
        yield ChainProblem(
            rec.seq,
            "unkeyed hash where a keyed one is due (hash scheme downgraded)"
            if due == HashScheme.HMAC_SHA256
            else "keyed hash before the signed legacy boundary",
        )
    try:
        recomputed = record_hash(rec, patients, key=key)
    except UnknownHashScheme as exc:
        yield ChainProblem(rec.seq, str(exc))
        return
    if recomputed != rec.hash:
        yield ChainProblem(rec.seq, _mismatch(rec, patients, key))
    if any(vouched != rec.hash for vouched in signed.hashes.get(rec.seq, ())):
        yield ChainProblem(rec.seq, "does not match its signed checkpoint (chain rewritten)")


def _mismatch(rec: AuditRecord, patients: list[str], key: bytes) -> str:
    """Why a record's hash does not match: its patient index, or its content."""
    listed = set(json.loads(rec.patients or "[]"))
    if (
        rec.hash_scheme == HashScheme.HMAC_SHA256
        and listed != set(patients)
        and record_hash(rec, listed, key=key) == rec.hash
    ):
        return "its audit_patient rows do not match its hash (patient index changed)"
    return "content does not match its hash (edited)"


def _checkpoint_problems(
    signed: SignedCheckpoints, vouched: set[int], anchor_seq: int, anchor_hash: str, last: int
) -> Iterator[ChainProblem]:
    """Signed checkpoints the chain did not pass through: at the anchor, or missing records."""
    beyond = [seq for seq in signed.hashes if seq > last]
    if beyond:
        yield ChainProblem(
            last + 1,
            f"records {last + 1}..{max(beyond)} are missing: a signed checkpoint names record "
            f"{max(beyond)} (records deleted at the end)",
        )
    for seq, hashes in sorted(signed.hashes.items()):
        if seq == anchor_seq and anchor_hash not in hashes:
            yield ChainProblem(seq, "the anchor does not match its signed checkpoint")
        elif anchor_seq < seq <= last and seq not in vouched:
            yield ChainProblem(seq, "a signed checkpoint names this record, which is missing")
