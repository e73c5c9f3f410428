"""Linking the audit chain after commit (hub.audit.linking), on SQLite files and in memory.

Records are written numbered and unhashed; the chainer links them in order, stops at a missing
number until it lapses, fills it as abandoned, and a crash between commit and linking loses
nothing. The concurrent version on PostgreSQL is tests/integration/test_audit_linking_pg.py.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from hub.audit.linking import (
    ABANDONED,
    chain_extent,
    chain_metric_lines,
    link_all,
    link_pending,
)
from hub.audit.models import AuditCheckpoint, AuditHead, AuditRecord
from hub.audit.service import AuditEntry, write_entries
from hub.audit.verification import verify_chain
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.db import Base, session_scope
from hub.models import import_all_models

T0 = datetime(2030, 5, 1, 9, 30, tzinfo=UTC)
ACTOR = Actor.build(
    client_id="lis-h001", facility="H001", role=Role.facility_system, scope="system/*.cruds"
)


def entry(n: int) -> AuditEntry:
    return AuditEntry(
        ACTOR, "read", "Patient", [f"Patient/p{n}"], [f"p{n}"], recorded=T0 + timedelta(seconds=n)
    )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    import_all_models()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def committed(engine: sa.Engine, *numbers: int) -> None:
    with Session(engine) as session:
        write_entries(session, [entry(n) for n in numbers])
        session.commit()


def hashes(engine: sa.Engine) -> dict[int, str | None]:
    with Session(engine) as session:
        return dict(session.execute(sa.select(AuditRecord.seq, AuditRecord.hash)).all())  # type: ignore[arg-type]


def test_records_are_committed_unlinked_and_verify_says_they_wait(engine: sa.Engine) -> None:
    committed(engine, 1, 2, 3)
    assert hashes(engine) == {1: None, 2: None, 3: None}
    with Session(engine) as session:
        assert list(verify_chain(session)) == []  # nothing linked is broken
        extent = chain_extent(session)
    assert (extent.head_seq, extent.waiting, extent.abandoned) == (0, 3, [])


def test_the_chainer_links_in_order_and_the_chain_verifies(engine: sa.Engine) -> None:
    committed(engine, 1, 2)
    committed(engine, 3)
    with Session(engine) as session:
        result = link_pending(session)
        session.commit()
    assert (result.linked, result.head_seq, result.waiting) == (3, 3, 0)
    with Session(engine) as session:
        records = session.execute(sa.select(AuditRecord).order_by(AuditRecord.seq)).scalars()
        chain = [(r.prev_hash, r.hash) for r in records]
        assert all(prev == earlier[1] for earlier, (prev, _) in itertools.pairwise(chain))
        assert list(verify_chain(session)) == []
        head = session.get(AuditHead, 1)
        assert head is not None and (head.last_seq, head.last_hash) == (3, chain[-1][1])


def test_a_crash_between_commit_and_linking_loses_nothing(engine: sa.Engine) -> None:
    """A process commits records and dies before any chainer runs; the next chainer links them."""
    script = textwrap.dedent(
        f"""
        import os, sqlalchemy as sa
        from datetime import UTC, datetime
        from sqlalchemy.orm import Session
        from hub.audit.service import AuditEntry, write_entries
        from hub.auth.actor import Actor
        from hub.auth.roles import Role
        actor = Actor.build(client_id="x", facility="H001", role=Role.facility_system,
                            scope="system/*.cruds")
        engine = sa.create_engine({str(engine.url)!r})
        with Session(engine) as session:
            write_entries(session, [AuditEntry(actor, "read", "Patient", [], [f"p{{n}}"])
                                    for n in range(5)])
            session.commit()
        os._exit(9)  # killed right after the commit: no chainer, no clean exit
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == 9, done.stderr.decode()
    assert list(hashes(engine).values()) == [None] * 5
    result = link_all(lambda: session_scope(engine))
    assert (result.linked, result.waiting) == (5, 0)
    with Session(engine) as session:
        assert list(verify_chain(session)) == []
    assert None not in hashes(engine).values()


def test_a_missing_number_stops_the_chainer_until_it_lapses(engine: sa.Engine) -> None:
    committed(engine, 1, 2, 3, 4)
    with Session(engine) as session:  # number 3 taken by a transaction that did not commit
        session.execute(sa.delete(AuditRecord).where(AuditRecord.seq == 3))
        session.commit()
    with Session(engine) as session:
        waiting = link_pending(session, grace=3600)
        session.commit()
    assert (waiting.linked, waiting.head_seq, waiting.waiting) == (2, 2, 1)
    assert hashes(engine)[4] is None  # never linked out of order
    with Session(engine) as session:
        lapsed = link_pending(session, grace=0)
        session.commit()
    assert (lapsed.abandoned, lapsed.linked, lapsed.head_seq) == (1, 2, 4)
    with Session(engine) as session:
        assert list(verify_chain(session)) == []
        filler = session.get(AuditRecord, 3)
        assert filler is not None and filler.interaction == ABANDONED
        assert chain_extent(session).abandoned == [3]


def test_a_linked_record_deleted_or_edited_is_still_detected(engine: sa.Engine) -> None:
    committed(engine, 1, 2, 3, 4)
    link_all(lambda: session_scope(engine))
    with Session(engine) as session:
        session.execute(sa.update(AuditRecord).where(AuditRecord.seq == 2).values(outcome="8"))
        session.execute(sa.delete(AuditRecord).where(AuditRecord.seq == 3))
        session.commit()
        reasons = {(p.seq, p.reason) for p in verify_chain(session)}
    assert (2, "content does not match its hash (edited)") in reasons
    assert any(seq == 4 and "missing" in reason for seq, reason in reasons)


def test_a_hash_written_beyond_the_head_is_a_problem(engine: sa.Engine) -> None:
    committed(engine, 1, 2)
    with Session(engine) as session:
        link_pending(session)
        session.commit()
    committed(engine, 3)
    with Session(engine) as session:
        session.execute(sa.update(AuditRecord).where(AuditRecord.seq == 3).values(hash="f" * 64))
        session.commit()
        problems = list(verify_chain(session))
    assert [(p.seq, "beyond the chain's head" in p.reason) for p in problems] == [(3, True)]


def test_the_chainer_signs_the_interval_checkpoints(engine: sa.Engine) -> None:
    committed(engine, *range(1, 8))
    with Session(engine) as session:
        link_pending(session, checkpoint_interval=3)
        session.commit()
        signed = session.execute(sa.select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq))
        assert signed.scalars().all() == [3, 6]
        assert list(verify_chain(session, checkpoint_interval=3)) == []


def test_the_metrics_show_what_waits_and_how_old_it_is(engine: sa.Engine) -> None:
    committed(engine, 1, 2, 3)  # then made 60 days old
    with Session(engine) as session:
        session.execute(sa.update(AuditRecord).values(recorded=datetime.now(UTC) - timedelta(60)))
        session.commit()
        lines = dict(line.split(" ") for line in chain_metric_lines(session) if line[0] != "#")
    assert lines["hub_audit_chain_waiting"] == "3"
    assert lines["hub_audit_chain_linked_seq"] == "0"
    assert float(lines["hub_audit_chain_lag_seconds"]) >= 60 * 86400
    link_all(lambda: session_scope(engine))
    with Session(engine) as session:
        lines = dict(line.split(" ") for line in chain_metric_lines(session) if line[0] != "#")
    assert (lines["hub_audit_chain_waiting"], lines["hub_audit_chain_linked_seq"]) == ("0", "3")
    assert float(lines["hub_audit_chain_lag_seconds"]) == 0


def test_verify_rereads_records_its_session_loaded_before_they_were_linked(
    engine: sa.Engine,
) -> None:
    """A caller that read its records while they waited, then verifies in the same session
    after another session linked them, sees the chain as stored, not its stale copies."""
    committed(engine, 1, 2, 3)
    with Session(engine) as session:
        loaded = session.execute(sa.select(AuditRecord)).scalars().all()
        assert [r.hash for r in loaded] == [None, None, None]
        session.get(AuditHead, 1)  # no head row yet: nothing cached
        with Session(engine) as chainer:
            assert link_pending(chainer, grace=0).linked == 3
            chainer.commit()
        # Same transaction (PostgreSQL's READ COMMITTED, pysqlite's SELECTs: each statement
        # sees the latest commit), the three records still in the session's identity map.
        assert list(verify_chain(session)) == []
        assert chain_extent(session).head_seq == 3
