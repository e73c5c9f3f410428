"""Training the match model on source records (``hub mpi train``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from hub.mpi.matching.blocking_arrays import blocked_pair_arrays
from hub.mpi.matching.compare import SPECS, compare, record_keys, tf_values
from hub.mpi.matching.compare_columns import compare_pairs
from hub.mpi.matching.features import MatchFeatures
from hub.mpi.matching.model import MatchModel
from hub.mpi.matching.record_columns import record_columns
from hub.mpi.training.em import Vector, train

# Fixed in advance, not tuned on any truth: link at 99% posterior, review from 50%.
UPPER_THRESHOLD = 0.99
LOWER_THRESHOLD = 0.5


def train_on_features(
    records: Sequence[MatchFeatures],
    *,
    seed: int = 0,
    version: str | None = None,
    max_block: int = 2_000,
    candidates_per_record: int = 50,
) -> MatchModel:
    """EM on the blocked pairs of ``records`` (``link_batch``'s pairs), their vectors compared
    column-wise (``compare_pairs``: the vectors ``compare`` gives, in the same order)."""
    low, high = blocked_pair_arrays([record_keys(r) for r in records], max_block=max_block,
                                    limit=candidates_per_record)  # fmt: skip
    columns = record_columns(records)

    def compare_many(pairs: Sequence[tuple[int, int]]) -> list[Vector]:
        left = np.fromiter((i for i, _ in pairs), dtype=np.int64, count=len(pairs))
        right = np.fromiter((j for _, j in pairs), dtype=np.int64, count=len(pairs))
        return list(map(tuple, compare_pairs(columns, left, right).tolist()))

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    model = train(
        list(records), compare, list(SPECS), zip(low.tolist(), high.tolist(), strict=True),
        tf_values=tf_values, thresholds=(UPPER_THRESHOLD, LOWER_THRESHOLD), seed=seed,
        version=version or f"fs-{stamp}", compare_many=compare_many,
    )  # fmt: skip
    return apply_domain_constraints(model)


# Domain knowledge EM cannot learn from unlabelled pairs: twins agree on everything but the ID,
# so EM counts them among the matches and learns that "two different valid resident IDs" happens
# to one person in a few percent of pairs. It does not: the check digit catches every single typo
# and adjacent swap, so a true match shows two *valid* different IDs only after a wrong card was
# copied, about once in tens of thousands of registrations.
STRONG_DISAGREEMENT_M = {("resident_id", 0): 1e-4}


def apply_domain_constraints(model: MatchModel) -> MatchModel:
    comparisons = []
    for c in model.comparisons:
        m = list(c.m)
        for (name, level), cap in STRONG_DISAGREEMENT_M.items():
            if c.name == name and m[level] > cap:
                excess = m[level] - cap
                m[level] = cap
                m[-1] += excess  # the mass goes back to exact agreement
        comparisons.append(replace(c, m=m))
    return replace(
        model,
        comparisons=comparisons,
        notes={
            **model.notes,
            "domain_constraints": {
                f"{n}[{lvl}]": cap for (n, lvl), cap in STRONG_DISAGREEMENT_M.items()
            },
        },
    )
