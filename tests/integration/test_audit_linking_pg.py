"""The audit chain linked after commit, under real concurrency on PostgreSQL.

Writers take numbers from the sequence without any lock; some transactions roll back after
their audit insert (numbers abandoned); a chainer links while they write. At the end every
committed record is linked exactly once in number order, every abandoned number is filled and
named, and the chain verifies.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from hub.audit.linking import ABANDONED, chain_extent, link_all, link_pending
from hub.audit.models import AuditRecord
from hub.audit.service import AuditEntry, write_entries
from hub.audit.verification import verify_chain
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.db import session_scope
from tests.postgres import _migrate, create_database, drop_database

WRITERS, TRANSACTIONS = 12, 30
ACTOR = Actor.build(
    client_id="pg", facility="H001", role=Role.facility_system, scope="system/*.cruds"
)


@pytest.fixture(scope="module")
def engine(postgres_database: str) -> Iterator[sa.Engine]:
    """A database of this test's own: the chain it verifies holds only its records."""
    admin_url = sa.engine.make_url(postgres_database).set(database="postgres")
    admin = admin_url.render_as_string(hide_password=False)
    name, url = create_database(admin)
    try:
        _migrate(url)
        engine = sa.create_engine(url, pool_size=WRITERS + 2)
        yield engine
        engine.dispose()
    finally:
        drop_database(admin, name)


def _writer(engine: sa.Engine, worker: int, outcome: dict[str, int], lock: threading.Lock) -> None:
    rng = random.Random(worker)
    for n in range(TRANSACTIONS):
        size = rng.randint(1, 3)
        entries = [
            AuditEntry(
                ACTOR, "read", "Patient", [], [f"w{worker}-{n}-{i}"], recorded=datetime.now(UTC)
            )
            for i in range(size)
        ]
        with Session(engine) as session:
            write_entries(session, entries)
            if rng.random() < 0.15:  # a commit that fails after the audit insert
                session.rollback()
                key = "rolled_back"
            else:
                session.commit()
                key = "committed"
        with lock:
            outcome[key] += size


def _write_last_record(engine: sa.Engine) -> None:
    entry = AuditEntry(ACTOR, "read", "Patient", [], ["last"], recorded=datetime.now(UTC))
    with Session(engine) as session:
        write_entries(session, [entry])
        session.commit()


def test_concurrent_writers_and_a_chainer_leave_one_intact_chain(engine: sa.Engine) -> None:
    outcome = {"committed": 0, "rolled_back": 0}
    lock, stop = threading.Lock(), threading.Event()

    def chainer() -> None:
        while not stop.is_set():
            with Session(engine) as session:
                link_pending(session, grace=0.5, batch=50)
                session.commit()

    writers = [
        threading.Thread(target=_writer, args=(engine, w, outcome, lock)) for w in range(WRITERS)
    ]
    linking = threading.Thread(target=chainer)
    linking.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    linking.join()
    # Numbers abandoned at the very end are no gap until a later record commits: write one.
    _write_last_record(engine)
    outcome["committed"] += 1

    result = link_all(lambda: session_scope(engine), grace=0)
    assert result.waiting == 0
    with Session(engine) as session:
        assert list(verify_chain(session)) == []
        extent = chain_extent(session)
        kept = session.execute(
            sa.select(sa.func.count()).where(AuditRecord.interaction != ABANDONED)
        ).scalar_one()
    assert outcome["rolled_back"] > 0  # the run did abandon numbers
    assert kept == outcome["committed"]
    assert len(extent.abandoned) == outcome["rolled_back"]
    assert extent.head_seq == outcome["committed"] + outcome["rolled_back"]
