"""Retention: removing audit records older than ``HUB_AUDIT_RETENTION_DAYS``, chain kept whole.

Pruning removes the oldest stretch of the chain whose records are all older than the cutoff and
moves the chain's anchor (in ``audit_head``) to the last record removed, so verification starts
from that record's hash instead of the genesis hash. The prune is itself an audit record, written
in the same transaction, whose outcome text attests the new anchor; ``verify_chain`` requires that
attestation, so records removed at the start without a prune are still detected.

The prune also signs a checkpoint at the new anchor (kind ``anchor``, :mod:`hub.audit.checkpoints`)
and ``verify_chain`` requires it for prunes attested by a keyed record: the HMAC key alone, which
could forge a prune record, cannot move the anchor. Checkpoints below the anchor stay (they hold
no personal data); they can no longer be compared with records, only their signatures checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from hub.audit.chain import anchor_attestation
from hub.audit.checkpoints import CheckpointKind, signed_checkpoint
from hub.audit.linking import link_pending
from hub.audit.models import AuditCheckpoint, AuditHead, AuditPatient, AuditRecord, AuditReview
from hub.audit.service import AuditEntry, write_entries
from hub.auth.actor import SYSTEM_ACTOR, Actor


class PruneError(Exception):
    """The chain cannot be pruned as it is (a record the anchor needs is missing)."""


@dataclass(frozen=True)
class PruneResult:
    removed: int
    anchor_seq: int
    anchor_hash: str
    cutoff: datetime


def retention_cutoff(retention_days: int, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=retention_days)


def prune_audit(
    session: Session, *, cutoff: datetime, actor: Actor = SYSTEM_ACTOR, dry_run: bool = False
) -> PruneResult:
    """Remove the records before the first one recorded at or after ``cutoff``; move the anchor.

    Records are removed as a prefix of the chain (by sequence), so a record committed late with
    an earlier time never leaves a gap. The caller commits (``session_scope``).
    """
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        return PruneResult(0, 0, "", cutoff)
    first_kept = session.execute(
        select(func.min(AuditRecord.seq)).where(
            AuditRecord.seq > head.anchor_seq, AuditRecord.recorded >= cutoff
        )
    ).scalar_one()
    # Only the linked chain is pruned: records after the head still wait for the chainer.
    upto = head.last_seq if first_kept is None else min(first_kept - 1, head.last_seq)
    if upto <= head.anchor_seq:
        return PruneResult(0, head.anchor_seq, head.anchor_hash, cutoff)
    anchor_hash = session.execute(
        select(AuditRecord.hash).where(AuditRecord.seq == upto)
    ).scalar_one_or_none()
    if anchor_hash is None:
        raise PruneError(f"record {upto}, the new anchor, is missing: run hub audit verify")
    removed = session.execute(
        select(func.count()).select_from(AuditRecord).where(AuditRecord.seq <= upto)
    ).scalar_one()
    result = PruneResult(removed, upto, anchor_hash, cutoff)
    if dry_run:
        return result
    for model in (AuditPatient, AuditReview, AuditRecord):
        session.execute(delete(model).where(model.seq <= upto))
    session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(anchor_seq=upto, anchor_hash=anchor_hash)
    )
    anchor = signed_checkpoint(upto, anchor_hash, CheckpointKind.ANCHOR)
    session.execute(insert(AuditCheckpoint).values(anchor))
    session.expire(head)
    attestation = AuditEntry(
        actor,
        "operation",
        "AuditEvent",
        outcome_text=anchor_attestation(upto, anchor_hash),
        query_params="$prune",
    )
    # Written and linked now, under the head lock this transaction holds, so the chain is
    # verifiable from the new anchor as soon as this commits (unless a number before the
    # attestation is still in flight: then the chainer links it with the rest).
    write_entries(session, [attestation])
    link_pending(session)
    return result
