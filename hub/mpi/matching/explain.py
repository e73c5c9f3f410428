"""Why a pair scored what it scored: each comparison's agreement level and weight (pure).

A data steward deciding a review item sees what the model saw: per comparison the level the
pair reached (``None`` where either record lacks the field) and its weight, the log2 Bayes
factor ``m/u`` (term-frequency adjusted for names, as in scoring); the prior's log-odds; their
sum, the match weight; the probability; and the household ceiling that may cap the decision.
The sum of the field weights and the prior is the weight :meth:`MatchModel.match_weight`
computes, so the page shows the same arithmetic registration ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hub.mpi.matching.compare import compare, tf_values
from hub.mpi.matching.features import MatchFeatures
from hub.mpi.matching.household import capped, ceiling, hanzi_names
from hub.mpi.matching.model import Decision, MatchModel


@dataclass(frozen=True)
class FieldWeight:
    name: str  # the comparison (resident_id, family_name, ...)
    level: str | None  # the agreement level's label; None: missing on either side
    weight: float  # log2 Bayes factor; 0.0 when missing (a missing field is neutral)


@dataclass(frozen=True)
class PairScore:
    fields: tuple[FieldWeight, ...]
    prior_weight: float  # log2 of the prior odds
    weight: float  # prior_weight + the fields' weights
    probability: float
    ceiling: Decision  # the most the household rules allow
    decision: Decision  # the model's decision under that ceiling


def explain_pair(model: MatchModel, a: MatchFeatures, b: MatchFeatures) -> PairScore:
    """Score ``a`` against ``b`` as registration does, comparison by comparison."""
    levels = compare(a, b)
    factors = model.bayes_factors(levels, tf_values(a))
    fields = tuple(
        FieldWeight(
            params.name,
            params.levels[level] if level >= 0 else None,
            math.log2(factor) if level >= 0 else 0.0,
        )
        for params, level, factor in zip(model.comparisons, levels, factors, strict=True)
    )
    weight = model.match_weight(levels, tf_values(a))
    probability = model.match_probability(weight)
    cap = ceiling(levels, hanzi=hanzi_names(a, b))
    return PairScore(
        fields=fields,
        prior_weight=math.log2(model.prior / (1.0 - model.prior)),
        weight=weight,
        probability=probability,
        ceiling=cap,
        decision=capped(model.decide(probability), cap),
    )
