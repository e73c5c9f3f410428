"""Which match model is active: the newest trained one in the database, else the packaged one.

The packaged model (``hub/mpi/data/default_model.json``) was trained by ``hub mpi train
--synthetic`` on the synthetic Yichang population, so a fresh hub matches sensibly before it
has data of its own; ``hub mpi train`` retrains on the hub's own source records.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from importlib import resources

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.mpi.matching.compare import SPECS
from hub.mpi.matching.model import MatchModel
from hub.mpi.models import ModelRow

log = logging.getLogger("hub.mpi.matching.model")
_CACHE: dict[str, MatchModel] = {}


def packaged_model() -> MatchModel:
    if "packaged" not in _CACHE:
        text = resources.files("hub.mpi").joinpath("data/default_model.json").read_text("utf-8")
        _CACHE["packaged"] = MatchModel.from_json(text)
    return _CACHE["packaged"]


_ACTIVE = "hub.mpi.active_model_version"  # session.info: read once per transaction


def active_model(session: Session) -> MatchModel:
    """The active trained model, or the packaged one when none is stored or the stored one was
    trained for other comparisons (an upgrade changed them: ``hub mpi train`` again).

    Which one is active is read once per transaction: every decision of a batch (an HL7 v2
    batch registers up to a hundred Patients) is taken with the same model, one query fewer
    each."""
    transaction = session.get_transaction()  # a session may outlive its transactions
    cached = session.info.get(_ACTIVE)
    if cached is not None and transaction is not None and cached[0] is transaction:
        row = cached[1]
    else:
        row = session.execute(
            select(ModelRow.version).where(ModelRow.active.is_(True))
        ).scalar_one_or_none()
        session.info[_ACTIVE] = (session.get_transaction(), row)
    if row is None:
        return packaged_model()
    if row not in _CACHE:
        content = session.execute(
            select(ModelRow.content).where(ModelRow.version == row)
        ).scalar_one()
        model = MatchModel.from_json(content)
        if [c.name for c in model.comparisons] != [spec.name for spec in SPECS]:
            log.warning("stored match model %s was trained for other comparisons; using the "
                        "packaged model until `hub mpi train` runs", row)  # fmt: skip
            model = packaged_model()
        _CACHE[row] = model
    return _CACHE[row]


def activate_model(session: Session, model: MatchModel) -> None:
    """Store a trained model and make it the active one (older versions are kept)."""
    session.info.pop(_ACTIVE, None)
    session.execute(update(ModelRow).values(active=False))
    existing = session.get(ModelRow, model.version)
    if existing is None:
        session.add(ModelRow(version=model.version, created=datetime.now(UTC), active=True,
                             content=model.to_json()))  # fmt: skip
    else:
        existing.active = True
        existing.content = model.to_json()
    session.flush()
