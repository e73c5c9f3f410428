"""The hub's engine through a real PgBouncer in transaction mode, as scripts/stack runs it.

PgBouncer gives each transaction whichever server connection is free, so a statement psycopg
prepared on one client connection meets the other clients' on the same server connection. With
one server connection this is certain: prepared statements fail, HUB_DB_PREPARED_STATEMENTS=false
works."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from hub.db import make_engine
from hub.mpi.models import ReviewRow
from hub.settings import Settings
from hub.stack import render
from hub.stack.layout import Layout
from tests.live import _free_port

ROUNDS = 8  # more than psycopg's prepare_threshold (5)


@contextmanager
def pgbouncer(database_url: str) -> Iterator[str]:
    """PgBouncer (transaction mode, one server connection) before ``database_url``'s database;
    yields the hub's URL through it."""
    binary = shutil.which("pgbouncer")
    if binary is None:  # fail, never skip: .ci/run installs the Debian package
        pytest.fail("pgbouncer is not installed (apt-get install -y pgbouncer)")
    url = sa.engine.make_url(database_url)
    run_dir = Path(tempfile.mkdtemp(prefix="hub-pgbouncer-"))
    run_dir.chmod(0o755)  # PgBouncer runs as postgres when we are root: it must read these
    port = _free_port()
    layout = Layout(run_dir=run_dir, database=str(url.database), port_base=port - 2,
                    postgres_host=url.host or "127.0.0.1", postgres_port=url.port or 5432,
                    postgres_user=url.username or "postgres")  # fmt: skip
    (run_dir / "pgbouncer").mkdir(mode=0o755)
    ini = run_dir / "pgbouncer" / "pgbouncer.ini"
    ini.write_text(
        render.pgbouncer_ini(layout).replace("default_pool_size = 20", "default_pool_size = 1")
    )
    (run_dir / "pgbouncer" / "userlist.txt").write_text(render.pgbouncer_userlist(layout))
    as_postgres = ["-u", "postgres"] if os.geteuid() == 0 else []
    log = (run_dir / "pgbouncer.log").open("wb")
    process = subprocess.Popen([binary, *as_postgres, str(ini)], stdout=log, stderr=log)
    try:
        via = layout.postgres_url(via_pgbouncer=True)
        _wait_for(via.replace("+psycopg", ""), process, run_dir / "pgbouncer.log")
        yield via
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        shutil.rmtree(run_dir, ignore_errors=True)


def _wait_for(libpq_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            with psycopg.connect(libpq_url, connect_timeout=2, prepare_threshold=None):
                return
        except psycopg.OperationalError:
            time.sleep(0.1)
    pytest.fail(f"pgbouncer did not start: {log.read_text()}")


def _interleaved_transactions(engine: sa.Engine) -> None:
    """Two pooled connections take turns, one transaction each, the same ORM query."""
    query = sa.select(sa.func.count()).select_from(ReviewRow)
    with engine.connect() as first, engine.connect() as second:
        for _ in range(ROUNDS):
            for connection in (first, second):
                with Session(connection) as session, session.begin():
                    assert session.scalar(query) is not None


def test_the_hub_engine_works_through_pgbouncer_without_prepared_statements(
    postgres_database: str,
) -> None:
    with pgbouncer(postgres_database) as url:
        engine = make_engine(Settings(database_url=url, db_prepared_statements=False))
        try:
            _interleaved_transactions(engine)
        finally:
            engine.dispose()


def test_prepared_statements_break_under_transaction_pooling(postgres_database: str) -> None:
    with pgbouncer(postgres_database) as url:
        engine = make_engine(Settings(database_url=url, db_prepared_statements=True))
        try:
            with pytest.raises(sa.exc.ProgrammingError, match="prepared statement"):
                _interleaved_transactions(engine)
        finally:
            engine.dispose()
