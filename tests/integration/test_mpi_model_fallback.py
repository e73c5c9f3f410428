"""A stored model trained for other comparisons (before an upgrade) is not used to score."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import delete, select, update

from hub.db import session_scope
from hub.mpi.matching.model import MatchModel
from hub.mpi.models import ModelRow
from hub.mpi.training.registry import activate_model, active_model, packaged_model


def test_a_stale_stored_model_falls_back_to_the_packaged_one(database: str) -> None:
    packaged = packaged_model()
    data = json.loads(packaged.to_json())
    data["comparisons"] = data["comparisons"][:9]  # as trained before new comparisons came
    data["version"] = "stale-before-upgrade"
    stale = MatchModel.from_dict(data)
    assert len(stale.comparisons) == 9 < len(packaged.comparisons)
    with session_scope() as session:
        before = session.scalars(select(ModelRow.version).where(ModelRow.active.is_(True))).all()
        session.execute(update(ModelRow).values(active=False))
        session.add(ModelRow(version=stale.version, created=datetime.now(UTC), active=True,
                             content=stale.to_json()))  # fmt: skip
    try:
        with session_scope() as session:
            assert active_model(session) is packaged
    finally:  # put back whichever model was active
        with session_scope() as session:
            session.execute(update(ModelRow).values(active=ModelRow.version.in_(before)))


def test_the_active_model_is_read_once_per_transaction(hub_on_postgres: str) -> None:
    """A batch decides with one model; the next transaction sees a model activated meanwhile
    (PostgreSQL: on SQLite the deciding transaction would hold the only writer's lock)."""
    data = json.loads(packaged_model().to_json())
    data["version"] = "activated-meanwhile"
    newer = MatchModel.from_dict(data)
    with session_scope() as session:
        before = session.scalars(select(ModelRow.version).where(ModelRow.active.is_(True))).all()
    try:
        with session_scope() as deciding:
            first = active_model(deciding)
            assert first.version != newer.version
            with session_scope() as training:  # another process activates a newer model
                activate_model(training, newer)
            assert active_model(deciding) is first  # the rest of the batch: the same model
            deciding.commit()  # the session's next transaction
            assert active_model(deciding).version == newer.version
    finally:  # put back whichever model was active
        with session_scope() as session:
            session.execute(update(ModelRow).values(active=ModelRow.version.in_(before)))
            session.execute(delete(ModelRow).where(ModelRow.version == newer.version))
