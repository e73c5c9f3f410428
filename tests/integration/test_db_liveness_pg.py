"""Pooled PostgreSQL connections: one that sat in the pool is pinged before use and replaced when
the server dropped it; one handed back a moment ago is given out again without a ping."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from hub import db
from hub.db import get_engine, session_scope
from tests.postgres import DEFAULT_POSTGRES_URL


@pytest.fixture
def pings(hub_on_postgres: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The pings the dialect sends (one entry each), on the run's PostgreSQL engine."""
    sent: list[int] = []
    dialect = get_engine().dialect
    ping = dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        sent.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    yield sent


def _backend_pid() -> int:
    with session_scope() as session:
        return int(session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_back_a_moment_ago_is_not_pinged(pings: list[int]) -> None:
    first = _backend_pid()
    before = len(pings)
    assert _backend_pid() == first  # the same pooled connection, straight back
    assert len(pings) == before


def test_a_dropped_connection_that_sat_in_the_pool_is_replaced(
    pings: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    dropped = _backend_pid()
    admin = sa.create_engine(DEFAULT_POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:  # what a server restart or a proxy timeout does to it
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    finally:
        admin.dispose()
    monkeypatch.setattr(db, "ALIVE_BYPASS_SECONDS", 0.0)  # as if it had sat there a while
    before = len(pings)
    assert _backend_pid() != dropped  # served, on a new connection
    assert len(pings) > before
