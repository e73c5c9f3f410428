"""Reading the test database as another process would, beside the hub's writers.

The hub's SQLite sessions take the write lock at BEGIN (``hub/db.py``), so a read through them
queues behind a busy worker or a commit in progress, and cannot tell what is committed at a given
moment. A plain engine reads beside them (WAL on SQLite, its own connection on PostgreSQL).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from sqlalchemy import Engine, Select, create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool


@cache
def observer_engine() -> Engine:
    """A plain engine on the test database: no write lock at BEGIN, no pooled connections."""
    return create_engine(os.environ["HUB_DATABASE_URL"], poolclass=NullPool)


def committed(statement: Select[Any]) -> list[Any]:
    """The ORM objects (or rows) ``statement`` finds among committed data, detached."""
    with Session(observer_engine()) as session:
        found = list(session.scalars(statement).all())
        session.expunge_all()
    return found
