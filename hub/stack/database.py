"""The stack's database: made at ``up``, dumped (``pg_dump -Fc``) and restored (``pg_restore``).

The dump holds the data and the audit chain; the keys that decrypt the one and verify the other
are in the run dir's ``secrets/hub.json``: keep a copy of it with the backups (not beside them).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from hub.stack.layout import Layout


class BackupError(RuntimeError):
    pass


def _connection_args(layout: Layout) -> list[str]:
    return ["-h", layout.postgres_host, "-p", str(layout.postgres_port), "-U", layout.postgres_user]


def backup(layout: Layout, file: Path, database: str | None = None) -> None:
    """The whole database in PostgreSQL's custom format (compressed, restorable selectively)."""
    _run(["pg_dump", "-Fc", *_connection_args(layout), "-d", database or layout.database,
          "-f", str(file)])  # fmt: skip


def restore(layout: Layout, file: Path, database: str, *, replace: bool = False) -> None:
    """``file`` into a new database ``database``; with ``replace``, one that exists is dropped
    first (stop the stack before replacing its own database)."""
    with _admin(layout) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if exists and not replace:
            raise BackupError(f"database {database} exists: restore into a new one, or --replace")
        if exists:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    _run(["pg_restore", "--no-owner", "--exit-on-error", *_connection_args(layout),
          "-d", database, str(file)])  # fmt: skip


def ensure_database(layout: Layout) -> bool:
    """Create the stack's database unless it exists; whether it was created."""
    with _admin(layout) as admin:
        if admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (layout.database,)
        ).fetchone():
            return False
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(layout.database)))
        return True


def _admin(layout: Layout) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=layout.postgres_host,
        port=layout.postgres_port,
        user=layout.postgres_user,
        dbname="postgres",
        autocommit=True,
        connect_timeout=5,
    )


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{argv[0]} failed: {result.stderr.strip()[-2000:]}")
