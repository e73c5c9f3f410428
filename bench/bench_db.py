"""A throwaway database for one bench run: a SQLite file, or a PostgreSQL database created on the
local server and dropped (connections forced closed) when the run ends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def fresh_database(backend: str, workdir: Path, prefix: str = "hub_bench") -> Iterator[str]:
    """The URL of an empty database (schema not applied) for ``backend``."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / f'{prefix}.db'}"
        return
    import sqlalchemy as sa

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        from hub.db import reset_engine  # this process's pool, if the bench used the hub in it

        reset_engine()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
