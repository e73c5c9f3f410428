"""The Fellegi–Sunter match model: parameters as data, scoring as arithmetic.

The engine is field-agnostic. A caller-supplied comparison function turns a pair of records
into a *comparison vector* of small ints, one per comparison: ``-1`` means missing (either side
null), ``0 .. L-1`` is an agreement level, higher meaning stronger agreement. The model holds,
for each comparison, ``m[level] = P(level | match)`` and ``u[level] = P(level | non-match)``,
plus the prior ``λ`` (probability that two random records match). The match weight of a vector is

    log2(λ / (1 - λ)) + Σ log2(m[level] / u[level])       over the non-missing comparisons,

so a missing comparison is neutral. Term-frequency adjustment (as in Splink): when a comparison
reaches its ``tf_level`` (usually the exact level) on a value the caller passes, ``u`` becomes
``max(tf[value], tf_min)``, so agreeing on a rare name weighs more than agreeing on a common one.

A :class:`MatchModel` is immutable (``dataclasses.replace`` builds a changed copy) because its
log tables are compiled once, at construction, for a scoring cost of a few µs per vector.
It serialises to deterministic JSON (``to_json`` / ``from_json``); anything inconsistent is
refused with :class:`ModelError`, whose messages name fields, never values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeGuard

import numpy as np
from numpy.typing import NDArray

FORMAT_VERSION = 1
_MAX_WEIGHT = 1000.0  # 2**1000 is still a finite float


class ModelError(ValueError):
    """An inconsistent, malformed or unsupported match model."""


class Decision(StrEnum):
    LINK = "link"  # same person: link automatically
    REVIEW = "review"  # possible match: a human decides
    NEW = "new"  # different person


@dataclass(frozen=True)
class ComparisonSpec:
    """One comparison of a record pair: its name and agreement levels (what training fits)."""

    name: str
    levels: tuple[str, ...]  # labels, index = level, the last one the strongest agreement
    tf: bool = False  # adjust the top level by the frequency of the agreed value
    tf_min: float | None = None  # frequency floor; default: that of a value seen once


@dataclass(frozen=True)
class ComparisonParams:
    name: str
    levels: list[str]  # labels, index = level
    m: list[float]
    u: list[float]
    tf_level: int | None = None  # level whose u is replaced by the value's frequency
    tf_min: float = 1e-6  # floor for a frequency (unknown or very rare values)


@dataclass(frozen=True)
class _TfSlot:
    index: int  # position of the comparison in the vector
    level: int
    adjust: dict[str, float]  # value -> log2(u[level]) - log2(max(tf, tf_min))
    default: float  # the same for a value absent from the table


@dataclass(frozen=True)
class MatchModel:
    version: str
    comparisons: list[ComparisonParams]
    prior: float
    tf: dict[str, dict[str, float]] = field(default_factory=dict)
    upper_threshold: float = 0.95
    lower_threshold: float = 0.5
    trained_at: str = ""
    notes: dict[str, Any] = field(default_factory=dict)
    _weights: tuple[tuple[float, ...], ...] = field(init=False, repr=False, compare=False)
    _prior_weight: float = field(init=False, repr=False, compare=False)
    _tf_slots: tuple[_TfSlot, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _validate(self)
        weights = tuple(
            tuple(math.log2(m / u) for m, u in zip(c.m, c.u, strict=True)) for c in self.comparisons
        )
        slots = []
        for i, c in enumerate(self.comparisons):
            if c.tf_level is None or c.name not in self.tf:
                continue
            log_u = math.log2(c.u[c.tf_level])
            adjust = {v: log_u - math.log2(max(f, c.tf_min)) for v, f in self.tf[c.name].items()}
            slots.append(_TfSlot(i, c.tf_level, adjust, log_u - math.log2(c.tf_min)))
        object.__setattr__(self, "_weights", weights)
        object.__setattr__(self, "_prior_weight", math.log2(self.prior / (1.0 - self.prior)))
        object.__setattr__(self, "_tf_slots", tuple(slots))

    # -- scoring ---------------------------------------------------------------------------

    def match_weight(
        self, vector: Sequence[int], tf_values: Sequence[str | None] | None = None
    ) -> float:
        """Prior log-odds plus the log2 Bayes factors of the non-missing comparisons."""
        tables = self._weights
        if len(vector) != len(tables):
            raise ModelError(f"vector has {len(vector)} comparisons, model has {len(tables)}")
        total = self._prior_weight
        for table, level in zip(tables, vector, strict=False):  # lengths checked above
            if level >= 0:
                total += table[level]
        if tf_values is not None:
            for slot in self._tf_slots:
                if vector[slot.index] == slot.level:
                    value = tf_values[slot.index]
                    if value:
                        total += slot.adjust.get(value, slot.default)
        return total

    def match_weights(
        self,
        vectors: NDArray[np.int8],
        tf_values: Sequence[Sequence[str | None]] | None = None,
        owners: NDArray[np.int64] | None = None,
    ) -> NDArray[np.float64]:
        """:meth:`match_weight` of every row of ``vectors`` (m, k), with the TF values
        ``tf_values[owners[row]]``: the same sums in the same order, so the same floats."""
        tables = self._weights
        if vectors.ndim != 2 or vectors.shape[1] != len(tables):
            raise ModelError(f"vectors have {vectors.shape[-1]} comparisons, model has "
                             f"{len(tables)}")  # fmt: skip
        total = np.full(len(vectors), self._prior_weight)
        for index, table in enumerate(tables):
            total += np.asarray((*table, 0.0))[vectors[:, index]]  # level -1 (missing): + 0.0
        if tf_values is None or owners is None:
            return total
        for slot in self._tf_slots:
            adjust, default, at = slot.adjust, slot.default, slot.index
            per_record = np.fromiter(
                (adjust.get(v, default) if (v := values[at]) else 0.0 for values in tf_values),
                dtype=np.float64, count=len(tf_values),
            )  # fmt: skip
            total += np.where(vectors[:, at] == slot.level, per_record[owners], 0.0)
        return total

    def bayes_factors(
        self, vector: Sequence[int], tf_values: Sequence[str | None] | None = None
    ) -> list[float]:
        """One Bayes factor m/u per comparison (1.0 where missing), TF-adjusted like the weight."""
        if len(vector) != len(self._weights):
            raise ModelError(
                f"vector has {len(vector)} comparisons, model has {len(self._weights)}"
            )
        logs = [
            table[level] if level >= 0 else 0.0
            for table, level in zip(self._weights, vector, strict=True)
        ]
        if tf_values is not None:
            for slot in self._tf_slots:
                value = tf_values[slot.index]
                if vector[slot.index] == slot.level and value:
                    logs[slot.index] += slot.adjust.get(value, slot.default)
        return [math.pow(2.0, w) for w in logs]

    @staticmethod
    def match_probability(weight: float) -> float:
        """The probability of a match for a match weight (log2 odds)."""
        weight = max(-_MAX_WEIGHT, min(_MAX_WEIGHT, weight))
        return 1.0 / (1.0 + math.pow(2.0, -weight))

    def decide(self, probability: float) -> Decision:
        if probability >= self.upper_threshold:
            return Decision.LINK
        if probability >= self.lower_threshold:
            return Decision.REVIEW
        return Decision.NEW

    # -- serialisation ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "prior": self.prior,
            "upper_threshold": self.upper_threshold,
            "lower_threshold": self.lower_threshold,
            "trained_at": self.trained_at,
            "notes": self.notes,
            "comparisons": [
                {
                    "name": c.name,
                    "levels": list(c.levels),
                    "m": list(c.m),
                    "u": list(c.u),
                    "tf_level": c.tf_level,
                    "tf_min": c.tf_min,
                }
                for c in self.comparisons
            ],
            "tf": {name: dict(values) for name, values in self.tf.items()},
        }

    def to_json(self) -> str:
        """Deterministic JSON (sorted keys): the same model always gives the same text."""
        try:
            return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, indent=1)
        except (TypeError, ValueError) as exc:
            raise ModelError("model notes are not JSON-serialisable") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> MatchModel:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelError("model is not valid JSON") from exc
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> MatchModel:
        obj = _mapping(data, "model")
        version = _get(obj, "format_version", "model")
        if type(version) is not int or version != FORMAT_VERSION:
            raise ModelError(f"unsupported format_version (expected {FORMAT_VERSION})")
        comparisons = []
        raw_comparisons = _get(obj, "comparisons", "model")
        if not isinstance(raw_comparisons, list):
            raise ModelError("comparisons must be a list")
        for i, raw in enumerate(raw_comparisons):
            where = f"comparisons[{i}]"
            c = _mapping(raw, where)
            tf_level = c.get("tf_level")
            if tf_level is not None and type(tf_level) is not int:
                raise ModelError(f"{where}.tf_level must be an integer or null")
            comparisons.append(
                ComparisonParams(
                    name=_string(_get(c, "name", where), f"{where}.name"),
                    levels=[_string(x, f"{where}.levels") for x in _list(c, "levels", where)],
                    m=[_number(x, f"{where}.m") for x in _list(c, "m", where)],
                    u=[_number(x, f"{where}.u") for x in _list(c, "u", where)],
                    tf_level=tf_level,
                    tf_min=_number(c.get("tf_min", 1e-6), f"{where}.tf_min"),
                )
            )
        tf: dict[str, dict[str, float]] = {}
        for name, values in _mapping(obj.get("tf", {}), "tf").items():
            table = _mapping(values, "tf")
            tf[name] = {str(v): _number(f, f"tf.{name}") for v, f in table.items()}
        notes = _mapping(obj.get("notes", {}), "notes")
        return cls(
            version=_string(_get(obj, "version", "model"), "version"),
            comparisons=comparisons,
            prior=_number(_get(obj, "prior", "model"), "prior"),
            tf=tf,
            upper_threshold=_number(_get(obj, "upper_threshold", "model"), "upper_threshold"),
            lower_threshold=_number(_get(obj, "lower_threshold", "model"), "lower_threshold"),
            trained_at=_string(obj.get("trained_at", ""), "trained_at"),
            notes=dict(notes),
        )


# -- validation ------------------------------------------------------------------------------


def _validate(model: MatchModel) -> None:
    if not model.comparisons:
        raise ModelError("a model needs at least one comparison")
    names = [c.name for c in model.comparisons]
    if len(set(names)) != len(names):
        raise ModelError("comparison names must be unique")
    for c in model.comparisons:
        _validate_comparison(c)
    _check_open(model.prior, "prior")
    lower, upper = model.lower_threshold, model.upper_threshold
    if not (_is_number(lower) and _is_number(upper) and 0.0 <= lower <= upper <= 1.0):
        raise ModelError("thresholds must satisfy 0 <= lower_threshold <= upper_threshold <= 1")
    by_name = {c.name: c for c in model.comparisons}
    for name, table in model.tf.items():
        if name not in by_name or by_name[name].tf_level is None:
            raise ModelError("tf table for a comparison that has no tf_level")
        for f in table.values():
            if not (_is_number(f) and 0.0 < f <= 1.0):
                raise ModelError(f"tf frequencies of {name!r} must lie in (0, 1]")


def _validate_comparison(c: ComparisonParams) -> None:
    n = len(c.levels)
    if n < 2:
        raise ModelError(f"comparison {c.name!r} needs at least two levels")
    if len(c.m) != n or len(c.u) != n:
        raise ModelError(f"comparison {c.name!r}: m and u need one value per level")
    for label, probs in (("m", c.m), ("u", c.u)):
        for p in probs:
            _check_open(p, f"{c.name}.{label}")
        if abs(math.fsum(probs) - 1.0) > 1e-6:
            raise ModelError(f"comparison {c.name!r}: {label} must sum to 1")
    if c.tf_level is not None and not 0 <= c.tf_level < n:
        raise ModelError(f"comparison {c.name!r}: tf_level out of range")
    if not (_is_number(c.tf_min) and 0.0 < c.tf_min <= 1.0):
        raise ModelError(f"comparison {c.name!r}: tf_min must lie in (0, 1]")


def _is_number(x: object) -> TypeGuard[float]:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _check_open(p: object, where: str) -> None:
    if not (_is_number(p) and 0.0 < p < 1.0):
        raise ModelError(f"{where} must be a probability in (0, 1)")


def _mapping(x: object, where: str) -> Mapping[str, Any]:
    if not isinstance(x, dict):
        raise ModelError(f"{where} must be a JSON object")
    return x


def _get(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise ModelError(f"{where} lacks {key!r}")
    return obj[key]


def _list(obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = _get(obj, key, where)
    if not isinstance(value, list):
        raise ModelError(f"{where}.{key} must be a list")
    return value


def _string(x: object, where: str) -> str:
    if not isinstance(x, str):
        raise ModelError(f"{where} must be a string")
    return x


def _number(x: object, where: str) -> float:
    if not _is_number(x):
        raise ModelError(f"{where} must be a finite number")
    return float(x)
