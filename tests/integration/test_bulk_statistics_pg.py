"""The first bulk load into a new PostgreSQL database leaves the planner statistics: without them
a search with two conditions on one date (``date=ge..&date=lt..``) was a nested loop over every
row of the type (34 s at 10,000 Observations); with them, milliseconds (bench figure in the
commit; this test checks the statistics, not the time)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from hub.auth.actor import SYSTEM_ACTOR
from hub.db import session_scope
from hub.fhir.bulk import bulk_create
from hub.security.fields import get_cipher
from tests.postgres import DEFAULT_POSTGRES_URL, _migrate, _unreachable, create_database
from tests.postgres import drop_database as drop


@pytest.fixture
def new_database() -> Iterator[sa.Engine]:
    """A migrated PostgreSQL database nobody has analyzed yet."""
    admin = os.environ.get("HUB_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    reason = _unreachable(admin)
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable: {reason}")
        pytest.skip(f"PostgreSQL is not reachable: {reason}")
    name, url = create_database(admin)
    engine = sa.create_engine(url)
    try:
        _migrate(url)
        yield engine
    finally:
        engine.dispose()
        drop(admin, name)


def _estimated_rows(engine: sa.Engine, table: str) -> float:
    with engine.connect() as conn:
        return float(
            conn.execute(
                sa.text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table}
            ).scalar_one()
        )


def test_the_first_bulk_load_leaves_planner_statistics(new_database: sa.Engine) -> None:
    assert _estimated_rows(new_database, "search_date") <= 0  # never analyzed: -1 (or 0)
    observations = [
        {"resourceType": "Observation", "status": "final", "code": {"text": "glucose"},
         "effectiveDateTime": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}"}
        for i in range(500)
    ]  # fmt: skip
    with session_scope(new_database) as session:
        bulk_create(session, "Observation", observations, actor=SYSTEM_ACTOR, cipher=get_cipher())
    assert _estimated_rows(new_database, "search_date") >= 400
    assert _estimated_rows(new_database, "fhir_resource") >= 400
