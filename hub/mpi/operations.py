"""Operator tasks of the patient index: the links export, retraining, thresholds (``hub mpi``).

Retraining reads the hub's own source records (their sealed match features) and fits a new
versioned model with EM (:func:`hub.mpi.training.from_features.train_on_features`); a threshold
change stores a new version of the active model with only its thresholds changed. Either way the old
versions stay in ``mpi_model`` and the new one becomes active for every API replica at its next
registration (they read the active version per registration).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import HubError
from hub.mpi import store as db
from hub.mpi.matching.features import MatchFeatures
from hub.mpi.matching.model import MatchModel, ModelError
from hub.mpi.models import ModelRow, PersonRow, SourceRow
from hub.mpi.training.from_features import LOWER_THRESHOLD, UPPER_THRESHOLD, train_on_features
from hub.mpi.training.registry import activate_model, active_model
from hub.security.fields import FieldCipher

LINK_COLUMNS = ("facility", "source_id", "person_id", "state", "score")
MIN_TRAINING_RECORDS = 200
_THRESHOLD_MARK = "+t"  # version suffix of a threshold change: {trained version}+t{stamp}


class ModelAdminError(HubError):
    """A training or threshold request the index refuses (the message says why)."""


@dataclass(frozen=True)
class Link:
    facility: str
    source_id: str
    person_id: str  # the enterprise id
    state: str  # auto | manual | review | new
    score: float | None

    def as_row(self) -> dict[str, str]:
        score = "" if self.score is None else f"{self.score:.6f}"
        return {"facility": self.facility, "source_id": self.source_id,
                "person_id": self.person_id, "state": self.state, "score": score}  # fmt: skip


def iter_links(session: Session, *, facility: str | None = None) -> Iterator[Link]:
    """Every source record with the person it links to, by facility and source id."""
    query = (
        select(
            SourceRow.facility,
            SourceRow.source_id,
            PersonRow.enterprise_id,
            SourceRow.state,
            SourceRow.score,
        )
        .join(PersonRow, PersonRow.id == SourceRow.person_id)
        .order_by(SourceRow.facility, SourceRow.source_id)
    )
    if facility is not None:
        query = query.where(SourceRow.facility == facility)
    for row in session.execute(query.execution_options(yield_per=2000)):
        yield Link(*row)


def stored_features(session: Session, cipher: FieldCipher) -> list[MatchFeatures]:
    """The match features of every source record in the index (decrypted in memory only)."""
    sealed = session.execute(
        select(SourceRow.features).order_by(SourceRow.id).execution_options(yield_per=5000)
    ).scalars()
    return [db.open_features(cipher, s) for s in sealed]


def check_thresholds(upper: float, lower: float) -> None:
    if not 0.0 < lower < upper < 1.0:
        raise ModelAdminError(
            f"thresholds must satisfy 0 < lower < upper < 1 (got lower {lower}, upper {upper})"
        )


def train_model(
    records: list[MatchFeatures],
    *,
    seed: int = 0,
    upper: float | None = None,
    lower: float | None = None,
    version: str | None = None,
) -> MatchModel:
    """Fit a model on ``records`` with EM; thresholds default to the fixed 0.99 / 0.5."""
    thresholds = (
        UPPER_THRESHOLD if upper is None else upper,
        LOWER_THRESHOLD if lower is None else lower,
    )
    check_thresholds(*thresholds)
    if len(records) < MIN_TRAINING_RECORDS:
        raise ModelAdminError(
            f"only {len(records)} source records to train on (at least {MIN_TRAINING_RECORDS}); "
            "load more records or train with --synthetic"
        )
    try:
        model = train_on_features(records, seed=seed, version=version)
        return replace(model, upper_threshold=thresholds[0], lower_threshold=thresholds[1])
    except (ModelError, ValueError, ZeroDivisionError) as exc:
        raise ModelAdminError(f"training failed: {exc}") from None


def train_on_index(
    session: Session,
    cipher: FieldCipher,
    *,
    seed: int = 0,
    upper: float | None = None,
    lower: float | None = None,
) -> tuple[MatchModel, int]:
    """Train on the index's own source records; the model and how many records it saw."""
    records = stored_features(session, cipher)
    return train_model(records, seed=seed, upper=upper, lower=lower), len(records)


def set_thresholds(
    session: Session, *, upper: float | None = None, lower: float | None = None
) -> tuple[MatchModel, MatchModel]:
    """Activate a new version of the active model with other thresholds; (old, new)."""
    current = active_model(session)
    new_upper = current.upper_threshold if upper is None else upper
    new_lower = current.lower_threshold if lower is None else lower
    check_thresholds(new_upper, new_lower)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    base = current.version.split(_THRESHOLD_MARK)[0][: 64 - len(_THRESHOLD_MARK) - len(stamp)]
    model = replace(
        current,
        version=f"{base}{_THRESHOLD_MARK}{stamp}",
        upper_threshold=new_upper,
        lower_threshold=new_lower,
        notes={**current.notes, "thresholds_changed_from": current.version},
    )
    activate_model(session, model)
    return current, model


def store_model(session: Session, model: MatchModel) -> None:
    """Store a model and make it the active one (its version must be new)."""
    if session.get(ModelRow, model.version) is not None:
        raise ModelAdminError(f"model version {model.version!r} is already stored")
    activate_model(session, model)
