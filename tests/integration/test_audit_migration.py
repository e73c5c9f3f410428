"""Migration 0009 on a hub with an audit log written before it, on a database of its own (a
SQLite file, or a new database on the PostgreSQL server of the test run).

The records written before keep their unkeyed hashes and still verify; the migration signs the
chain's tip as the legacy boundary; records written after are keyed; an unkeyed record after the
boundary is a downgrade.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session

from hub.audit.chain import ChainProblem, hashed_row, record_row, row_hash
from hub.audit.checkpoints import CHECKPOINT_INTERVAL
from hub.audit.linking import link_pending
from hub.audit.models import GENESIS_HASH, AuditCheckpoint, AuditHead, AuditRecord
from hub.audit.service import AuditEntry
from hub.audit.service import write_entries as append_entries
from hub.audit.verification import verify_chain
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.db import UTCDateTime
from hub.migrate import alembic_config


def write_entries(
    session: Session, entries: list[AuditEntry], *, checkpoint_interval: int = CHECKPOINT_INTERVAL
) -> None:
    """Append ``entries`` and link them at once, as the chainer does after commit."""
    append_entries(session, entries)
    link_pending(session, grace=0, checkpoint_interval=checkpoint_interval)


T0 = datetime(2031, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
ACTOR = Actor.build(client_id="lis-h001", facility="H001", role=Role.facility_system, scope="x")
# audit_log and audit_head as revision 0008 left them (the ORM models have the new columns)
LOG_0008 = sa.table(
    "audit_log",
    *(sa.column(name) for name in ("seq", "client_id", "facility", "role", "purpose_of_use")),
    *(sa.column(name) for name in ("action", "interaction", "resource_type", "resources")),
    *(sa.column(name) for name in ("patients", "outcome", "outcome_text", "source_address")),
    *(sa.column(name) for name in ("query_params", "prev_hash", "hash")),
    sa.column("recorded", UTCDateTime()),
)
PATIENT_0008 = sa.table("audit_patient", sa.column("seq"), sa.column("patient_id"))
HEAD_0008 = sa.table("audit_head", sa.column("id"), sa.column("last_seq"), sa.column("last_hash"))


@pytest.fixture
def own_database(database: str, tmp_path: Path) -> Iterator[sa.Engine]:
    url = os.environ["HUB_DATABASE_URL"]
    if not url.startswith("postgresql"):
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'upgrade.db'}")
        yield engine
        engine.dispose()
        return
    name = f"hub_upgrade_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(sa.make_url(url).set(database=name))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def migrate(engine: sa.Engine, revision: str, *, down: bool = False) -> None:
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def write_as_before_0009(engine: sa.Engine, count: int) -> None:
    """Audit records as the hub wrote them before revision 0009: plain SHA-256, no scheme."""
    prev, records, links = GENESIS_HASH, [], []
    for seq in range(1, count + 1):
        recorded = T0 + timedelta(seconds=seq)
        row: dict[str, object] = {
            "seq": seq,
            "recorded": recorded.isoformat(),
            "client_id": "lis-h001",
            "facility": "H001",
            "role": "facility_system",
            "purpose_of_use": None,
            "action": "R",
            "interaction": "read",
            "resource_type": "Patient",
            "resources": json.dumps([f"Patient/old{seq}"]),
            "patients": json.dumps([f"old{seq}"]),
            "outcome": "0",
            "outcome_text": None,
            "source_address": None,
            "query_params": None,
        }
        digest = row_hash(prev, hashed_row(row))
        records.append(dict(row, recorded=recorded, prev_hash=prev, hash=digest))
        links.append({"seq": seq, "patient_id": f"old{seq}"})
        prev = digest
    with engine.begin() as conn:
        conn.execute(sa.insert(LOG_0008), records)
        conn.execute(sa.insert(PATIENT_0008), links)
        conn.execute(sa.insert(HEAD_0008).values(id=1, last_seq=count, last_hash=prev))


def test_records_written_before_0009_still_verify_and_cannot_be_downgraded_after(
    own_database: sa.Engine,
) -> None:
    migrate(own_database, "0008")
    write_as_before_0009(own_database, 4)
    migrate(own_database, "head")
    with Session(own_database) as session:
        boundary = session.execute(sa.select(AuditCheckpoint)).scalar_one()
        assert (boundary.kind, boundary.seq) == ("legacy", 4)
        assert list(verify_chain(session)) == []
        write_entries(session, [AuditEntry(ACTOR, "read", "Patient", [], ["new"], recorded=T0)])
        session.commit()
        schemes = session.execute(sa.select(AuditRecord.hash_scheme).order_by(AuditRecord.seq))
        assert list(schemes.scalars()) == [0, 0, 0, 0, 1]
        assert list(verify_chain(session)) == []

        newest = session.get(AuditRecord, 5)
        assert newest is not None
        newest.hash_scheme, newest.hash = 0, row_hash(newest.prev_hash, record_row(newest))
        session.execute(sa.update(AuditHead).values(last_hash=newest.hash))
        session.commit()
        assert list(verify_chain(session)) == [
            ChainProblem(5, "unkeyed hash where a keyed one is due (hash scheme downgraded)")
        ]
    migrate(own_database, "0008", down=True)
    assert "audit_checkpoint" not in sa.inspect(own_database).get_table_names()
