"""Schema migrations with Alembic, run programmatically (``hub db upgrade``, ``hub demo``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_database(revision: str = "head") -> None:
    command.upgrade(alembic_config(), revision)


def autogenerate(message: str) -> None:
    command.revision(alembic_config(), message=message, autogenerate=True)
