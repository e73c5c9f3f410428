"""PostgreSQL for the tests of locking and concurrency, whatever database the run uses.

SQLite serialises writers, so a test of advisory locks or of concurrent writers proves nothing
there: removing the locks passes. These fixtures give such tests a PostgreSQL database on every
run where one is reachable (``HUB_TEST_POSTGRES_URL``, by default the local server): the run's
own database when it runs on PostgreSQL, otherwise a throwaway one, migrated once, dropped at
the end. Without a reachable server the tests skip and say why, except on CI (``CI`` set),
which always has one: there they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.live import LiveHub, TokenFactory, running_hub, tokens_for

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def create_database(admin_url: str) -> tuple[str, str]:
    """Create a database with a fresh name on the server of ``admin_url``: (name, its URL)."""
    name = f"hub_test_{uuid.uuid4().hex[:10]}"
    _run_outside_transactions(admin_url, f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(admin_url).set(database=name)
    return name, url.render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    _run_outside_transactions(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run_outside_transactions(admin_url: str, statement: str) -> None:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def _unreachable(admin_url: str) -> str | None:
    """Why the server of ``admin_url`` cannot be used, or None when it can."""
    engine = sa.create_engine(admin_url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as error:
        return str(error.orig or error).splitlines()[0]
    finally:
        engine.dispose()
    return None


def _migrate(url: str) -> None:
    from alembic import command

    from hub.migrate import alembic_config

    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_database(database: str) -> Iterator[str]:
    """The URL of a migrated PostgreSQL database: the run's own, or a throwaway one."""
    if database.startswith("postgresql"):
        yield database
        return
    admin_url = os.environ.get("HUB_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    reason = _unreachable(admin_url)
    if reason is not None:
        where = sa.engine.make_url(admin_url).render_as_string(hide_password=True)
        message = f"PostgreSQL is not reachable at {where} ({reason}); set HUB_TEST_POSTGRES_URL"
        if os.environ.get("CI"):  # CI always has a server: its absence is a broken job
            pytest.fail(message)
        pytest.skip(message)
    name, url = create_database(admin_url)
    try:
        _migrate(url)
        yield url
    finally:
        drop_database(admin_url, name)


@pytest.fixture
def hub_on_postgres(postgres_database: str) -> Iterator[str]:
    """Point the in-process hub (sessions, engine, CLI subprocesses run with ``os.environ``) at
    ``postgres_database`` for one test, and back to the run's database afterwards."""
    from hub.db import reset_engine
    from hub.settings import get_settings

    saved = os.environ["HUB_DATABASE_URL"]
    os.environ["HUB_DATABASE_URL"] = postgres_database
    get_settings.cache_clear()
    reset_engine()
    try:
        yield postgres_database
    finally:
        os.environ["HUB_DATABASE_URL"] = saved
        get_settings.cache_clear()
        reset_engine()


@dataclass(frozen=True)
class PostgresHub:
    """A live hub on ``postgres_database`` and tokens it accepts."""

    hub: LiveHub
    make_token: TokenFactory


@pytest.fixture(scope="session")
def postgres_live_hub(
    database: str, postgres_database: str, run_dir: Path, request: pytest.FixtureRequest
) -> Iterator[PostgresHub]:
    """The run's live hub when the run is on PostgreSQL, otherwise a second one started on the
    throwaway database (its own port, so its tokens name another issuer)."""
    if postgres_database == database:
        live, make_token = (request.getfixturevalue(f) for f in ("live_hub", "make_token"))
        yield PostgresHub(live, make_token)
        return
    env = dict(os.environ, HUB_DATABASE_URL=postgres_database,
               HUB_VAR_DIR=str(run_dir / "var-postgres"))  # fmt: skip
    with running_hub(env, run_dir / "server-postgres.log") as hub:
        yield PostgresHub(hub, tokens_for(hub))
