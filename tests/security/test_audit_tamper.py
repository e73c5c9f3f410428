"""Security issue item 7: the audit log resists whoever owns the database.

The attacker writes the database directly (a session from ``hub.db.session_scope``) but holds
neither the HMAC key of the record hashes nor the Ed25519 key of the checkpoints; some attacks
also assume a stolen HMAC key. Before the keyed chain, every attack below passed
``hub audit verify``: the hashes were plain SHA-256 that anyone could recompute, the
``audit_patient`` rows were outside them, and nothing was signed.

Each test appends records of its own to the shared test database (SQLite or PostgreSQL), attacks
them, verifies (in-process, and through the ``hub`` CLI for some), and the fixture removes its
records and checkpoints again, leaving the chain intact as it found it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from hub.audit.chain import ChainProblem, keyed_row_hash, record_row, row_hash
from hub.audit.checkpoints import CHECKPOINT_INTERVAL, CheckpointKind, signed_checkpoint
from hub.audit.keys import audit_hmac_key, b64url
from hub.audit.linking import link_pending
from hub.audit.models import AuditCheckpoint, AuditHead, AuditPatient, AuditRecord
from hub.audit.service import AuditEntry
from hub.audit.service import write_entries as append_entries
from hub.audit.verification import verify_chain
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.db import session_scope
from tests.integration.hub_cli import run_hub


def write_entries(
    session: Session, entries: list[AuditEntry], *, checkpoint_interval: int = CHECKPOINT_INTERVAL
) -> None:
    """Append ``entries`` and link them at once, as the chainer does after commit."""
    append_entries(session, entries)
    link_pending(session, grace=0, checkpoint_interval=checkpoint_interval)


ACTOR = Actor.build(
    client_id="ward-h003", facility="H003", role=Role.practitioner, scope="user/*.rs"
)
RECORDS = 8
EDITED = "content does not match its hash (edited)"
DOWNGRADED = "unkeyed hash where a keyed one is due (hash scheme downgraded)"
REWRITTEN = "does not match its signed checkpoint (chain rewritten)"
# How an attacker recomputes a record's hash: (record, its patient ids) -> hash
Hasher = Callable[[AuditRecord, list[str]], str]


@dataclass(frozen=True)
class Chain:
    first: int  # the test's records: first .. last
    last: int


def problems() -> list[ChainProblem]:
    with session_scope() as session:
        return list(verify_chain(session, batch=3))


def verify_cli() -> tuple[int, str]:
    result = run_hub("audit", "verify")
    return result.returncode, " ".join((result.stdout + result.stderr).split())


@pytest.fixture
def chain(database: str) -> Iterator[Chain]:
    assert problems() == [], "the shared chain must be intact before an attack"
    with session_scope() as session:
        head = session.get(AuditHead, 1)
        saved = None if head is None else (head.last_seq, head.last_hash)
        last_checkpoint = session.execute(sa.select(sa.func.max(AuditCheckpoint.id))).scalar()
    start = datetime.now(UTC)
    with session_scope() as session:
        entries = [
            AuditEntry(
                ACTOR,
                "read",
                "Patient",
                [f"Patient/t{n}", f"Patient/t{n}-kin"],
                [f"t{n}", f"t{n}-kin"],
                recorded=start + timedelta(milliseconds=n),
            )
            for n in range(RECORDS)
        ]
        write_entries(session, entries)
    with session_scope() as session:  # numbers come from a sequence: read them back
        first, last = session.execute(
            sa.select(sa.func.min(AuditRecord.seq), sa.func.max(AuditRecord.seq)).where(
                AuditRecord.client_id == ACTOR.client_id,
                AuditRecord.seq > (saved[0] if saved else 0),
            )
        ).one()
    assert last - first == RECORDS - 1
    first = (saved[0] if saved else 0) + 1 if first is None else first
    yield Chain(first, last)
    with session_scope() as session:
        for model in (AuditPatient, AuditRecord):
            session.execute(sa.delete(model).where(model.seq > (saved[0] if saved else 0)))
        session.execute(
            sa.delete(AuditCheckpoint).where(AuditCheckpoint.id > (last_checkpoint or 0))
        )
        if saved is None:
            session.execute(sa.delete(AuditHead))
        else:
            session.execute(sa.update(AuditHead).values(last_seq=saved[0], last_hash=saved[1]))
    assert problems() == []


def patients_of(session: Session, seq: int) -> list[str]:
    found = session.execute(sa.select(AuditPatient.patient_id).where(AuditPatient.seq == seq))
    return list(found.scalars())


def rewrite_from(seq: int, hasher: Hasher, *, scheme: int | None = None) -> None:
    """Recompute the hashes of record ``seq`` and every later one, and the head, as an attacker
    who wants the chain to link up again would."""
    with session_scope() as session:
        prev = session.execute(
            sa.select(AuditRecord.hash).where(AuditRecord.seq == seq - 1)
        ).scalar_one()
        records = session.execute(
            sa.select(AuditRecord).where(AuditRecord.seq >= seq).order_by(AuditRecord.seq)
        ).scalars()
        for rec in records.all():
            rec.prev_hash = prev
            if scheme is not None:
                rec.hash_scheme = scheme
            rec.hash = prev = hasher(rec, patients_of(session, rec.seq))
        session.execute(sa.update(AuditHead).values(last_hash=prev))


def edit(seq: int) -> None:
    with session_scope() as session:
        session.execute(
            sa.update(AuditRecord).where(AuditRecord.seq == seq).values(outcome_text="nothing")
        )


def plain_sha256(rec: AuditRecord, patients: list[str]) -> str:
    """The hash as the code before the keyed chain computed it."""
    return row_hash(rec.prev_hash, record_row(rec))


def hmac_with(key: bytes) -> Hasher:
    def hasher(rec: AuditRecord, patients: list[str]) -> str:
        return keyed_row_hash(key, rec.prev_hash, record_row(rec), patients)

    return hasher


def sign_at(seq: int) -> None:
    """The checkpoint the hub signed when the chain ended at record ``seq``."""
    with session_scope() as session:
        values = signed_checkpoint(seq, _hash_of(session, seq), CheckpointKind.MANUAL)
        session.add(AuditCheckpoint(**values))


def _hash_of(session: Session, seq: int) -> str:
    found = session.execute(sa.select(AuditRecord.hash).where(AuditRecord.seq == seq))
    return str(found.scalar_one())


# --- the attacks --------------------------------------------------------------------------------


@pytest.mark.parametrize("downgrade", [False, True], ids=["scheme-kept", "scheme-downgraded"])
def test_an_edit_rehashed_with_plain_sha256_is_detected(chain: Chain, downgrade: bool) -> None:
    target = chain.first + 2
    edit(target)
    rewrite_from(target, plain_sha256, scheme=0 if downgrade else None)
    found = problems()
    assert found[0] == ChainProblem(target, DOWNGRADED if downgrade else EDITED)
    if downgrade:  # every later record is an unkeyed one after keyed ones
        assert {p.seq for p in found if p.reason == DOWNGRADED} == set(
            range(target, chain.last + 1)
        )
    code, output = verify_cli()
    assert code == 1, output
    assert f"record {target}: {found[0].reason}" in output
    assert f"the first at record {target}" in output


def test_an_edit_rehashed_with_a_wrong_hmac_key_is_detected(chain: Chain) -> None:
    target = chain.first + 3
    edit(target)
    rewrite_from(target, hmac_with(b"a guess at the hub's key, 32 chars"))
    found = problems()
    assert found[0] == ChainProblem(target, EDITED)
    assert {p.seq for p in found} == set(range(target, chain.last + 1))


def test_a_deleted_audit_patient_row_is_detected(chain: Chain) -> None:
    target = chain.first + 1
    with session_scope() as session:
        session.execute(
            sa.delete(AuditPatient).where(
                AuditPatient.seq == target, AuditPatient.patient_id == "t1-kin"
            )
        )
    reason = "its audit_patient rows do not match its hash (patient index changed)"
    assert problems() == [ChainProblem(target, reason)]
    code, output = verify_cli()
    assert code == 1, output
    assert f"record {target}: {reason}" in output
    assert "audit chain broken: 1 problem(s), the first at record" in output
    with session_scope() as session:  # adding one is as visible as deleting one
        session.add(AuditPatient(seq=target, patient_id="t1-kin"))
        session.add(AuditPatient(seq=target + 1, patient_id="someone-else"))
    assert problems() == [ChainProblem(target + 1, reason)]


def test_records_truncated_after_a_checkpoint_are_detected(chain: Chain) -> None:
    checkpoint = chain.first + 5
    sign_at(checkpoint)
    assert problems() == []
    keep = chain.first + 2
    with session_scope() as session:
        for model in (AuditPatient, AuditRecord):
            session.execute(sa.delete(model).where(model.seq > keep))
        session.execute(
            sa.update(AuditHead).values(last_seq=keep, last_hash=_hash_of(session, keep))
        )
    found = problems()
    assert found == [
        ChainProblem(
            keep + 1,
            f"records {keep + 1}..{checkpoint} are missing: a signed checkpoint names record "
            f"{checkpoint} (records deleted at the end)",
        )
    ]
    code, output = verify_cli()
    assert code == 1, output
    assert f"record {keep + 1}: records {keep + 1}..{checkpoint} are missing" in output


def test_a_chain_rewritten_with_the_stolen_hmac_key_fails_at_the_checkpoint(chain: Chain) -> None:
    checkpoint = chain.first + 5
    sign_at(checkpoint)
    edit(chain.first + 1)
    rewrite_from(chain.first + 1, hmac_with(audit_hmac_key()))
    assert problems() == [ChainProblem(checkpoint, REWRITTEN)]


def test_a_forged_checkpoint_is_detected(chain: Chain) -> None:
    """The thief of the HMAC key rewrites the chain and re-signs its checkpoint: without the
    hub's private key the signature does not verify, whichever key id the row claims."""
    checkpoint = chain.first + 5
    sign_at(checkpoint)
    edit(chain.first + 1)
    rewrite_from(chain.first + 1, hmac_with(audit_hmac_key()))
    own_key = Ed25519PrivateKey.generate()
    with session_scope() as session:
        row = session.execute(
            sa.select(AuditCheckpoint).where(AuditCheckpoint.seq == checkpoint)
        ).scalar_one()
        forged = signed_checkpoint(
            checkpoint, _hash_of(session, checkpoint), CheckpointKind.MANUAL, key=own_key
        )
        row.hash, row.signature = str(forged["hash"]), str(forged["signature"])  # same key id
        session.add(AuditCheckpoint(**forged))  # and one under the attacker's own key id
        session.add(
            AuditCheckpoint(
                seq=chain.last,
                kind="manual",
                hash="0" * 64,
                created=datetime.now(UTC),
                key_id=row.key_id,
                signature=b64url(b"\0" * 64),
            )
        )
    found = problems()
    assert (
        ChainProblem(
            checkpoint, "checkpoint signature does not verify (forged or altered checkpoint)"
        )
        in found
    )
    assert any(p.seq == checkpoint and "unknown key" in p.reason for p in found)
    assert (
        ChainProblem(
            chain.last, "checkpoint signature does not verify (forged or altered checkpoint)"
        )
        in found
    )
    code, output = verify_cli()
    assert code == 1 and f"record {checkpoint}: checkpoint signature does not verify" in output


def test_an_untouched_chain_passes(chain: Chain) -> None:
    sign_at(chain.first + 4)
    assert problems() == []
    code, output = verify_cli()
    assert code == 0, output
    assert "audit chain intact" in output
    checkpoint = run_hub("audit", "checkpoint")
    assert checkpoint.returncode == 0, checkpoint.stderr
    assert f"checkpoint at record {chain.last}" in checkpoint.stderr
    assert problems() == []
