"""A stored model trained for other comparisons (before an upgrade) is not used to score."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select, update

from hub.db import session_scope
from hub.mpi.matching.model import MatchModel
from hub.mpi.models import ModelRow
from hub.mpi.training.registry import active_model, packaged_model


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
