"""Linking the audit chain after commit: the chainer hashes committed records in sequence order.

A request writes its audit records in its own transaction, numbered but unhashed
(:func:`hub.audit.service.write_entries`), so nothing is served unaudited and no request waits
for another's commit. The chainer then links them: under the head's row lock (only chainers,
prune and checkpoint take it) it reads the records after the head in sequence order, hashes each
onto the previous one, signs the interval checkpoints that fall among them, and moves the head,
all in one transaction. It never skips or reorders:

- it stops at the first missing number; records after a gap wait;
- a number stays missing when its transaction rolled back after taking it (a commit that failed
  after the audit insert). Once a gap has been seen for :data:`GAP_GRACE_SECONDS`, the chainer
  fills it with an *abandoned* record (``interaction`` ``abandoned``) and links over it. The
  insert ignores a conflict, and on PostgreSQL waits for a transaction still holding the number,
  so a late record is linked, never replaced. ``hub audit verify`` lists abandoned numbers: each
  should be explained by a failed commit. A number abandoned after the last committed record is
  no gap yet: it is filled once a later record commits.

A crash between a request's commit and the linking loses nothing: the records are committed and
the next chainer links them (the in-process thread or the Celery task on each wake-up, and the
sweeper that finds records waiting).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.audit.chain import HashScheme, keyed_row_hash, record_row
from hub.audit.checkpoints import CHECKPOINT_INTERVAL, CheckpointKind, signed_checkpoint
from hub.audit.keys import audit_hmac_key
from hub.audit.models import GENESIS_HASH, AuditCheckpoint, AuditHead, AuditPatient, AuditRecord

GAP_GRACE_SECONDS = 5.0  # a missing number older than this is taken as abandoned
LINK_BATCH = 5000  # records linked per transaction
ABANDONED = "abandoned"  # the interaction of a record filling an abandoned number
CHAINER_CLIENT = "hub-audit-chainer"

_HEAD = cast(Table, AuditHead.__table__)
_LOG = cast(Table, AuditRecord.__table__)
_CHECKPOINTS = cast(Table, AuditCheckpoint.__table__)

# When this process first saw each missing number (a restart only delays a fill).
_gaps_seen: dict[int, float] = {}
_gaps_lock = threading.Lock()


@dataclass(frozen=True)
class LinkResult:
    linked: int  # records hashed onto the chain
    abandoned: int  # numbers filled as abandoned
    head_seq: int  # the linked chain's tip afterwards
    waiting: int  # records still after the tip (behind a gap, or beyond the batch)


@dataclass(frozen=True)
class ChainExtent:
    head_seq: int  # the last linked record
    waiting: int  # committed records not linked yet
    oldest_waiting: datetime | None  # when the oldest of them was recorded
    abandoned: list[int]  # numbers filled as abandoned


def start_chain(connection: Connection) -> None:
    """Create the head row if missing; racing creators never abort (the conflict is ignored)."""
    values = {"id": 1, "last_seq": 0, "last_hash": GENESIS_HASH}
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(postgresql.insert(_HEAD).values(**values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        connection.execute(sqlite.insert(_HEAD).values(**values).on_conflict_do_nothing())
    else:
        connection.execute(insert(_HEAD).values(**values))


def _locked_head(connection: Connection) -> tuple[int, str]:
    query = select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == 1).with_for_update()
    row = connection.execute(query).first()
    if row is None:
        start_chain(connection)
        row = connection.execute(query).first()
        assert row is not None
    return int(row.last_seq), str(row.last_hash)


def link_pending(
    session: Session,
    *,
    batch: int = LINK_BATCH,
    grace: float = GAP_GRACE_SECONDS,
    checkpoint_interval: int = CHECKPOINT_INTERVAL,
) -> LinkResult:
    """Link up to ``batch`` committed records after the head, in order. The caller commits.

    Only tests pass another ``checkpoint_interval`` (and verify with the same) or ``grace``.
    """
    connection = session.connection()
    last_seq, prev = _locked_head(connection)
    key = audit_hmac_key()
    linked = abandoned = 0
    records = _records_after(session, last_seq, batch)
    if records and records[0].seq != last_seq + 1 and _gap_lapsed(last_seq + 1, grace):
        abandoned = _fill_abandoned(connection, last_seq + 1, records[0].seq - 1)
        session.expire_all()
        records = _records_after(session, last_seq, batch)
    patients = _patients_between(session, last_seq, records[-1].seq if records else last_seq)
    checkpoints: list[dict[str, object]] = []
    for rec in records:
        if rec.seq != last_seq + 1:
            _gap_seen(last_seq + 1)
            break
        rec.prev_hash = prev
        rec.hash = prev = keyed_row_hash(key, prev, record_row(rec), patients.get(rec.seq, []))
        last_seq, linked = rec.seq, linked + 1
        if last_seq % checkpoint_interval == 0:
            checkpoints.append(signed_checkpoint(last_seq, prev, CheckpointKind.INTERVAL))
    if linked:
        session.flush()
        if checkpoints:
            connection.execute(insert(_CHECKPOINTS), checkpoints)
        connection.execute(
            update(_HEAD).where(_HEAD.c.id == 1).values(last_seq=last_seq, last_hash=prev)
        )
        loaded = session.identity_map.get(session.identity_key(AuditHead, 1))
        if loaded is not None:
            session.expire(loaded)
        _forget_gaps_upto(last_seq)
    waiting = session.execute(
        select(func.count()).select_from(_LOG).where(_LOG.c.seq > last_seq)
    ).scalar_one()
    return LinkResult(linked, abandoned, last_seq, int(waiting))


def link_all(session_factory: Any, *, grace: float = GAP_GRACE_SECONDS) -> LinkResult:
    """Link everything linkable, one transaction per batch (``session_factory``: a
    :func:`hub.db.session_scope`-like context manager)."""
    total = abandoned = 0
    while True:
        with session_factory() as session:
            result = link_pending(session, grace=grace)
        total, abandoned = total + result.linked, abandoned + result.abandoned
        # Nothing left (the usual wake-up after one commit) or nothing linkable: done, without
        # another round of head lock and reads.
        if not result.waiting or (not result.linked and not result.abandoned):
            return LinkResult(total, abandoned, result.head_seq, result.waiting)


def chain_extent(session: Session) -> ChainExtent:
    """How far the chain is linked, what waits, and which numbers were filled as abandoned."""
    head = session.execute(select(_HEAD.c.last_seq).where(_HEAD.c.id == 1)).scalar_one_or_none()
    head_seq = int(head or 0)
    waiting, oldest = session.execute(
        select(func.count(), func.min(_LOG.c.recorded)).where(_LOG.c.seq > head_seq)
    ).one()
    abandoned = session.execute(
        select(_LOG.c.seq).where(_LOG.c.interaction == ABANDONED).order_by(_LOG.c.seq)
    ).scalars()
    return ChainExtent(head_seq, int(waiting), oldest, [int(s) for s in abandoned])


def records_waiting(session: Session) -> bool:
    """Whether any committed record waits to be linked (the sweeper's question)."""
    head = select(_HEAD.c.last_seq).where(_HEAD.c.id == 1).scalar_subquery()
    query = select(_LOG.c.seq).where(_LOG.c.seq > func.coalesce(head, 0)).limit(1)
    return session.execute(query).first() is not None


def _records_after(session: Session, after: int, batch: int) -> Sequence[AuditRecord]:
    query = select(AuditRecord).where(AuditRecord.seq > after).order_by(AuditRecord.seq)
    # populate_existing: a record the session loaded before it was linked elsewhere is re-read.
    query = query.limit(batch).execution_options(populate_existing=True)
    return session.execute(query).scalars().all()


def _patients_between(session: Session, after: int, upto: int) -> dict[int, list[str]]:
    rows = session.execute(
        select(AuditPatient.seq, AuditPatient.patient_id).where(
            AuditPatient.seq > after, AuditPatient.seq <= upto
        )
    )
    patients: dict[int, list[str]] = {}
    for seq, patient_id in rows:
        patients.setdefault(seq, []).append(patient_id)
    return patients


def _fill_abandoned(connection: Connection, first: int, last: int) -> int:
    """Fill the numbers ``first..last`` that are still missing with abandoned records."""
    now = datetime.now(UTC)
    rows = [
        {
            "seq": seq,
            "recorded": now,
            "client_id": CHAINER_CLIENT,
            "facility": "hub",
            "role": "system",
            "action": "E",
            "interaction": ABANDONED,
            "resources": "[]",
            "patients": "[]",
            "outcome": "0",
            "outcome_text": "number taken by a transaction that did not commit",
            "hash_scheme": int(HashScheme.HMAC_SHA256),
        }
        for seq in range(first, last + 1)
    ]
    dialect = connection.dialect.name
    # Ignoring a conflict: on PostgreSQL the insert first waits for a transaction that still
    # holds the number, and keeps its record if it commits.
    if dialect == "postgresql":
        statement: Any = postgresql.insert(_LOG).on_conflict_do_nothing(index_elements=["seq"])
    else:
        statement = sqlite.insert(_LOG).on_conflict_do_nothing(index_elements=["seq"])
    filled = 0
    for row in rows:
        filled += connection.execute(statement.values(row)).rowcount or 0
    return filled


def _gap_seen(seq: int) -> None:
    with _gaps_lock:
        _gaps_seen.setdefault(seq, time.monotonic())


def _gap_lapsed(seq: int, grace: float) -> bool:
    if grace <= 0:
        return True
    with _gaps_lock:
        first_seen = _gaps_seen.setdefault(seq, time.monotonic())
    return time.monotonic() - first_seen >= grace


def _forget_gaps_upto(seq: int) -> None:
    with _gaps_lock:
        for number in [n for n in _gaps_seen if n <= seq]:
            del _gaps_seen[number]


def chain_metric_lines(session: Session) -> list[str]:
    """The chain's linking lag in Prometheus text, for ``/metrics`` (alert when it grows)."""
    extent = chain_extent(session)
    lag = 0.0
    if extent.oldest_waiting is not None:
        oldest = extent.oldest_waiting
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        lag = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
    return [
        "# HELP hub_audit_chain_linked_seq The last audit record linked onto the hash chain",
        "# TYPE hub_audit_chain_linked_seq gauge",
        f"hub_audit_chain_linked_seq {extent.head_seq}",
        "# HELP hub_audit_chain_waiting Committed audit records not linked yet",
        "# TYPE hub_audit_chain_waiting gauge",
        f"hub_audit_chain_waiting {extent.waiting}",
        "# HELP hub_audit_chain_lag_seconds Age of the oldest audit record waiting to be linked",
        "# TYPE hub_audit_chain_lag_seconds gauge",
        f"hub_audit_chain_lag_seconds {lag:.3f}",
        "# HELP hub_audit_chain_abandoned Numbers filled as abandoned (each a failed commit)",
        "# TYPE hub_audit_chain_abandoned gauge",
        f"hub_audit_chain_abandoned {len(extent.abandoned)}",
    ]
