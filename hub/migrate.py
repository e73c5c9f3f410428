"""Schema migrations with Alembic, run programmatically (``hub db upgrade``, ``hub demo``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from hub.db import make_engine
from hub.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_database(revision: str = "head") -> None:
    command.upgrade(alembic_config(), revision)


def autogenerate(message: str) -> None:
    command.revision(alembic_config(), message=message, autogenerate=True)


def schema_revisions(settings: Settings | None = None) -> tuple[str | None, str | None]:
    """The database's schema revision (None: never migrated) and the latest one this hub has.

    Raises SQLAlchemy's errors when the database cannot be opened."""
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    return current, ScriptDirectory.from_config(alembic_config()).get_current_head()
