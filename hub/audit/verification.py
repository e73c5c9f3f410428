"""Verifying the audit chain: every hash recomputed in order, every signed checkpoint passed.

What a record's hash covers is :mod:`hub.audit.chain`; the signed checkpoints are
:mod:`hub.audit.checkpoints`. Each break is a :class:`~hub.audit.chain.ChainProblem` named by
the first record concerned; ``hub audit verify`` prints them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.audit.chain import (
    ChainProblem,
    HashScheme,
    UnknownHashScheme,
    anchor_attestation,
    record_hash,
)
from hub.audit.checkpoints import (
    CHECKPOINT_INTERVAL,
    SignedCheckpoints,
    load_signed_checkpoints,
    missing_interval_checkpoints,
)
from hub.audit.keys import audit_hmac_key, checkpoint_public_keys
from hub.audit.models import GENESIS_HASH, AuditHead, AuditPatient, AuditRecord


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

    The chain starts at the head's anchor (the genesis hash, or the last record pruned) and ends
    at the head's tip: records committed after it wait for the chainer (:mod:`hub.audit.linking`,
    :func:`~hub.audit.linking.chain_extent` says how many) and are not verified yet; any of them
    that already holds a hash is a problem.
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
    # Fresh rows, whatever the caller's session loaded before (records it read unlinked).
    head = session.get(AuditHead, 1, populate_existing=True)
    linked_upto = head.last_seq if head is not None else _last_hashed(session)
    for rec, patients in _records_with_patients(session, anchor_seq, linked_upto, batch):
        if rec.seq != expected_seq:
            yield ChainProblem(rec.seq, f"records {expected_seq}..{rec.seq - 1} are missing")
        if rec.prev_hash != prev:
            yield ChainProblem(rec.seq, "previous-hash link broken")
        yield from _record_problems(rec, patients, key, signed)
        if rec.seq in signed.hashes:
            vouched.add(rec.seq)
        if attested_by is None and rec.outcome_text == attestation:
            attested_by = rec.hash_scheme
        prev, expected_seq, last = rec.hash or "", rec.seq + 1, rec.seq
    yield from _checkpoint_problems(signed, vouched, anchor_seq, anchor_hash, last)
    for seq in missing_interval_checkpoints(
        signed, after=max(signed.legacy_seq, anchor_seq), upto=last, interval=checkpoint_interval
    ):
        yield ChainProblem(seq, "no signed checkpoint at this record (checkpoint deleted)")
    if anchor_seq and attested_by is None and _attested_while_waiting(session, last, attestation):
        # The prune's own record still waits for the chainer: it was written keyed, so the
        # signed anchor checkpoint must vouch for the anchor (checked next).
        attested_by = HashScheme.HMAC_SHA256
    if anchor_seq and attested_by is None:
        yield ChainProblem(anchor_seq, "no prune record attests the anchor (records removed)")
    elif attested_by == HashScheme.HMAC_SHA256 and anchor_hash not in signed.hashes.get(
        anchor_seq, ()
    ):
        yield ChainProblem(anchor_seq, "no signed checkpoint vouches for the anchor (removed)")
    # The head as this statement sees it: a chainer that committed since the head was read
    # above moved head and hashes together, so one statement sees both or neither.
    tip_now = select(AuditHead.last_seq).where(AuditHead.id == 1).scalar_subquery()
    beyond = session.execute(
        select(AuditRecord.seq)
        .where(
            AuditRecord.seq > func.coalesce(tip_now, linked_upto),
            AuditRecord.hash.is_not(None),
        )
        .order_by(AuditRecord.seq)
        .limit(1)
    ).scalar_one_or_none()
    if beyond is not None:
        yield ChainProblem(beyond, "holds a hash beyond the chain's head (linked outside it)")
    if head is None and last > anchor_seq:
        yield ChainProblem(last, "the chain head is missing")
    if head is not None and (head.last_seq != last or head.last_hash != prev):
        yield ChainProblem(last, "chain tip does not match the head (records deleted at the end)")


def _attested_while_waiting(session: Session, after: int, attestation: str) -> bool:
    """Whether a record not linked yet attests the anchor (a prune just committed)."""
    query = select(AuditRecord.seq).where(
        AuditRecord.seq > after,
        AuditRecord.hash.is_(None),
        AuditRecord.outcome_text == attestation,
    )
    return session.execute(query.limit(1)).first() is not None


def _last_hashed(session: Session) -> int:
    """Without a head row: the last record holding a hash (the head was removed), else 0."""
    last = session.execute(
        select(func.max(AuditRecord.seq)).where(AuditRecord.hash.is_not(None))
    ).scalar_one_or_none()
    return int(last or 0)


def _records_with_patients(
    session: Session, after: int, upto: int, batch: int
) -> Iterator[tuple[AuditRecord, list[str]]]:
    """The records after ``after`` up to ``upto`` in order, each with its ``audit_patient`` rows."""
    while True:
        records = (
            session.execute(
                select(AuditRecord)
                .where(AuditRecord.seq > after, AuditRecord.seq <= upto)
                .order_by(AuditRecord.seq)
                .limit(batch)
                .execution_options(populate_existing=True)
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
