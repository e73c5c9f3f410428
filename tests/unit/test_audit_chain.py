"""The audit hash chain on an in-memory SQLite database: row_hash, write_entries, verify_chain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from hub.audit.models import GENESIS_HASH, AuditHead, AuditPatient, AuditRecord
from hub.audit.service import (
    AuditEntry,
    ChainProblem,
    flush_pending_audit,
    record_access,
    row_hash,
    verify_chain,
    write_entries,
)
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.db import Base
from hub.models import import_all_models

T0 = datetime(2030, 5, 1, 9, 30, tzinfo=UTC)
ACTOR = Actor.build(
    client_id="lis-h001", facility="H001", role=Role.facility_system, scope="system/*.cruds"
)


@pytest.fixture
def session() -> Iterator[Session]:
    import_all_models()
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def entry(n: int, *, patients: tuple[str, ...] = ("p1",), outcome: str = "0") -> AuditEntry:
    return AuditEntry(
        ACTOR,
        "read",
        "Patient",
        [f"Patient/{p}" for p in patients],
        list(patients),
        outcome=outcome,
        recorded=T0 + timedelta(seconds=n),
    )


def write(session: Session, count: int) -> None:
    write_entries(session, [entry(n, patients=(f"p{n}",)) for n in range(1, count + 1)])
    session.commit()


def problems(session: Session) -> list[ChainProblem]:
    return list(verify_chain(session, batch=2))


def test_row_hash_covers_the_content_and_the_previous_hash() -> None:
    row: dict[str, object] = {"seq": 1, "client_id": "a", "outcome": "0"}
    digest = row_hash(GENESIS_HASH, row)
    assert len(digest) == 64
    assert row_hash(GENESIS_HASH, dict(row)) == digest
    assert row_hash(GENESIS_HASH, {"outcome": "0", "client_id": "a", "seq": 1}) == digest
    assert row_hash(GENESIS_HASH, row | {"outcome": "4"}) != digest
    assert row_hash("1" * 64, row) != digest


def test_written_records_form_an_intact_chain(session: Session) -> None:
    write(session, 5)
    write_entries(session, [entry(6, outcome="4")])
    session.commit()
    records = session.execute(sa.select(AuditRecord).order_by(AuditRecord.seq)).scalars().all()
    assert [r.seq for r in records] == [1, 2, 3, 4, 5, 6]
    assert records[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in pairwise(records))
    assert [r.action for r in records] == ["R"] * 6
    head = session.get(AuditHead, 1)
    assert head is not None
    assert (head.last_seq, head.last_hash) == (6, records[-1].hash)
    links = session.execute(sa.select(AuditPatient.patient_id).where(AuditPatient.seq == 3))
    assert links.scalars().all() == ["p3"]
    assert problems(session) == []


def test_pending_entries_wait_on_the_session(session: Session) -> None:
    record_access(session, entry(1))
    assert session.execute(sa.select(sa.func.count()).select_from(AuditRecord)).scalar() == 0
    flush_pending_audit(session)
    session.commit()
    assert session.execute(sa.select(sa.func.count()).select_from(AuditRecord)).scalar() == 1
    assert problems(session) == []


def test_an_edited_record_is_named(session: Session) -> None:
    write(session, 5)
    session.execute(
        sa.update(AuditRecord).where(AuditRecord.seq == 3).values(outcome_text="nothing to see")
    )
    session.commit()
    assert problems(session) == [ChainProblem(3, "content does not match its hash (edited)")]


def test_an_edited_and_rehashed_record_breaks_the_next_link(session: Session) -> None:
    write(session, 5)
    forged = session.get(AuditRecord, 3)
    assert forged is not None
    forged.outcome = "4"
    columns = [c.name for c in AuditRecord.__table__.columns if c.name not in ("prev_hash", "hash")]
    row: dict[str, object] = {c: getattr(forged, c) for c in columns}
    row["recorded"] = forged.recorded.astimezone(UTC).isoformat()
    forged.hash = row_hash(forged.prev_hash, row)
    session.commit()
    assert problems(session) == [ChainProblem(4, "previous-hash link broken")]


def test_a_deleted_record_is_named(session: Session) -> None:
    write(session, 5)
    session.execute(sa.delete(AuditPatient).where(AuditPatient.seq == 3))
    session.execute(sa.delete(AuditRecord).where(AuditRecord.seq == 3))
    session.commit()
    found = problems(session)
    assert ChainProblem(4, "records 3..3 are missing") in found
    assert ChainProblem(4, "previous-hash link broken") in found
    assert {p.seq for p in found} == {4}


def test_records_deleted_at_the_end_are_detected(session: Session) -> None:
    write(session, 5)
    session.execute(sa.delete(AuditPatient).where(AuditPatient.seq >= 4))
    session.execute(sa.delete(AuditRecord).where(AuditRecord.seq >= 4))
    session.commit()
    found = problems(session)
    assert [p.seq for p in found] == [3]
    assert "head" in found[0].reason


def test_chain_continues_across_writes(session: Session) -> None:
    write(session, 2)
    write(session, 3)
    assert session.execute(sa.select(sa.func.max(AuditRecord.seq))).scalar() == 5
    assert problems(session) == []
