"""Signed checkpoints of the audit chain: "the chain's hash at record N was H", signed Ed25519.

The record hashes are keyed (:mod:`hub.audit.chain`), which stops someone with the database
alone from forging records; checkpoints also stop someone who has stolen the HMAC key, or who
deletes records at the end, because nobody without the Ed25519 private key can sign a new one
and ``hub audit verify`` requires the chain to pass through every signed checkpoint.

Kinds (part of what is signed):

- ``interval``: written by :func:`hub.audit.service.write_entries` with every record whose
  number is a multiple of :data:`CHECKPOINT_INTERVAL`, in the same statement as the records.
  Written with the records, not by a scheduled job, so the stretch of chain that no checkpoint
  covers stays short without anything else running, and so their places are known: verify
  reports a missing one (a checkpoint deleted to hide a rewrite). It costs one signature and
  one row per interval, never a query per request.
- ``manual``: ``hub audit checkpoint`` (after verifying the chain), e.g. from cron, to cover the
  chain's tip now.
- ``anchor``: ``hub audit prune`` signs the new anchor (the last record removed), so only the
  holder of the private key can move the anchor; records removed at the start by anyone else
  are detected even if they hold the HMAC key.
- ``legacy``: migration 0009 signs the tip of a chain written before records were keyed. Records
  up to it keep their unkeyed hashes; every record after it must be keyed. Without one, every
  record must be keyed, so unkeyed records (a downgrade) are never accepted after the upgrade.

What checkpoints kept in the database cannot show: records deleted at the end together with the
checkpoints after them (up to :data:`CHECKPOINT_INTERVAL` records without deleting any). And the
private key is needed wherever records are written: checkpoints hold against whoever has the
database, or the HMAC key, without a hub host, not against someone in control of a hub host.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hub.audit.chain import ChainProblem, canonical
from hub.audit.keys import b64url, checkpoint_signing_key, key_id
from hub.audit.models import AuditCheckpoint, AuditHead

CHECKPOINT_INTERVAL = 1000  # records; verify expects one at every multiple (never change it)


class NothingToSign(Exception):
    """There is no record to sign a checkpoint for."""


class CheckpointKind(StrEnum):
    INTERVAL = "interval"
    MANUAL = "manual"
    ANCHOR = "anchor"
    LEGACY = "legacy"


def checkpoint_payload(seq: int, chain_hash: str, kind: str, created: datetime) -> bytes:
    """The bytes a checkpoint's signature covers."""
    statement = {
        "v": 1,
        "seq": seq,
        "hash": chain_hash,
        "kind": kind,
        "created": created.astimezone(UTC).isoformat(),
    }
    return b"hub-audit-checkpoint|" + canonical(statement)


def signed_checkpoint(
    seq: int,
    chain_hash: str,
    kind: CheckpointKind,
    *,
    created: datetime | None = None,
    key: Ed25519PrivateKey | None = None,
) -> dict[str, object]:
    """The ``audit_checkpoint`` row values for a new checkpoint (signed with the hub's key)."""
    key = key or checkpoint_signing_key()
    when = created or datetime.now(UTC)
    signature = key.sign(checkpoint_payload(seq, chain_hash, kind, when))
    return {
        "seq": seq,
        "kind": str(kind),
        "hash": chain_hash,
        "created": when,
        "key_id": key_id(key.public_key()),
        "signature": b64url(signature),
    }


def signature_problem(cp: AuditCheckpoint, public_keys: dict[str, Ed25519PublicKey]) -> str | None:
    """Why ``cp`` is not a checkpoint this hub signed, or None if it is."""
    public = public_keys.get(cp.key_id)
    if public is None:
        return f"checkpoint signed by an unknown key {cp.key_id[:16]!r} (forged checkpoint)"
    try:
        signature = base64.urlsafe_b64decode(cp.signature + "=" * (-len(cp.signature) % 4))
        public.verify(signature, checkpoint_payload(cp.seq, cp.hash, cp.kind, cp.created))
    except (InvalidSignature, binascii.Error, ValueError):
        return "checkpoint signature does not verify (forged or altered checkpoint)"
    return None


@dataclass
class SignedCheckpoints:
    """The checkpoints whose signatures verify: the hashes they vouch for, by record number."""

    hashes: dict[int, set[str]] = field(default_factory=dict)
    legacy_seq: int = 0  # the last record hashed unkeyed (0: every record must be keyed)


def load_signed_checkpoints(
    session: Session, public_keys: dict[str, Ed25519PublicKey]
) -> tuple[SignedCheckpoints, list[ChainProblem]]:
    """Check every checkpoint's signature; keep those that verify."""
    signed, problems, legacy = SignedCheckpoints(), [], []
    rows = session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).scalars()
    for cp in rows:
        problem = signature_problem(cp, public_keys)
        if problem is not None:
            problems.append(ChainProblem(cp.seq, problem))
            continue
        signed.hashes.setdefault(cp.seq, set()).add(cp.hash)
        if cp.kind == CheckpointKind.LEGACY:
            legacy.append(cp.seq)
    if len(set(legacy)) > 1:
        problems.append(ChainProblem(max(legacy), "more than one signed legacy boundary"))
    signed.legacy_seq = max(legacy, default=0)
    return signed, problems


def missing_interval_checkpoints(
    signed: SignedCheckpoints, *, after: int, upto: int, interval: int = CHECKPOINT_INTERVAL
) -> Iterator[int]:
    """The multiples of ``interval`` in ``(after, upto]`` without a signed checkpoint."""
    for seq in range((after // interval + 1) * interval, upto + 1, interval):
        if seq not in signed.hashes:
            yield seq


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    key_id: str


def write_checkpoint(session: Session, kind: CheckpointKind = CheckpointKind.MANUAL) -> Checkpoint:
    """Sign the chain's tip now (``hub audit checkpoint``); the caller commits.

    The chain tip is locked as writers lock it, so the signed hash is the committed tip's.
    """
    head = session.execute(
        select(AuditHead.last_seq, AuditHead.last_hash).where(AuditHead.id == 1).with_for_update()
    ).first()
    if head is None or head.last_seq == 0:
        raise NothingToSign("the audit log has no records yet")
    values = signed_checkpoint(head.last_seq, head.last_hash, kind)
    session.execute(insert(AuditCheckpoint).values(values))
    return Checkpoint(head.last_seq, head.last_hash, str(values["key_id"]))
