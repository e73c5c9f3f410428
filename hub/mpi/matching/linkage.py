"""Batch linkage: score every blocked pair once, then cluster under the hard constraint.

Pairs are decided as registration decides them (the model's thresholds under the household
ceilings of ``hub.mpi.matching.household``). Clustering is greedy by match weight with one veto: two
records whose resident IDs are both valid and different never end up in one person, not even
through a chain of records without an ID (the transitivity trap twins fall into with plain
connected components). The online path applies the same veto per candidate person.

:func:`link_batch` does the per-pair work column-wise (numpy): the candidate pairs
(:mod:`hub.mpi.matching.blocking_arrays`), their comparison vectors
(:mod:`hub.mpi.matching.compare_columns`), weights, decisions and ceilings as arrays.
:func:`link_batch_scalar` is the same linkage pair by pair through ``compare``, ``match_weight``
and ``ceiling``, kept as the reference the tests hold the column-wise one to.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from hub.mpi.matching.blocking import BlockingIndex, candidate_pairs
from hub.mpi.matching.blocking_arrays import blocked_pair_arrays
from hub.mpi.matching.compare import compare, record_keys, tf_values
from hub.mpi.matching.compare_columns import compare_pairs
from hub.mpi.matching.features import MatchFeatures
from hub.mpi.matching.household import capped, ceiling, ceilings, hanzi_names
from hub.mpi.matching.model import Decision, MatchModel
from hub.mpi.matching.record_columns import record_columns

NEW_RANK, REVIEW_RANK, LINK_RANK = 0, 1, 2  # = household._RANK
# A probability this close to a threshold is decided by the scalar function, whose pow may
# differ from numpy's in the last bit.
_THRESHOLD_MARGIN = 1e-9


def conflicting_ids(a: frozenset[str], b: frozenset[str]) -> bool:
    """Valid resident IDs of two people that cannot belong to one person."""
    return bool(a) and bool(b) and a != b


@dataclass
class BatchResult:
    clusters: list[int]  # cluster id per record
    scored_pairs: int
    linked_pairs: int
    review_pairs: int
    vetoed_merges: int
    reviews: list[tuple[int, int, float]] = field(default_factory=list)  # (i, j, probability)


_NO_IDS: frozenset[str] = frozenset()


def _id_set(ids: frozenset[str] | str | None) -> frozenset[str]:
    if isinstance(ids, frozenset):
        return ids
    return frozenset((ids,)) if ids else _NO_IDS


class _Clusters:
    def __init__(
        self, ids: Sequence[str | None], fixed: Sequence[int | None] | None = None
    ) -> None:
        self.parent = list(range(len(ids)))
        # A record's ID, made a set when its cluster first meets another (most never do).
        self.ids: list[frozenset[str] | str | None] = list(ids)
        self.frozen = [False] * len(ids)
        first: dict[int, int] = {}
        for index, group in enumerate(fixed or ()):
            if group is None:
                continue
            if group in first:  # records a steward put together stay together
                root = self.find(first[group])
                self.parent[index] = root
                self.ids[root] = _id_set(self.ids[root]) | _id_set(self.ids[index])
            else:
                first[group] = index
            self.frozen[self.find(index)] = True

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ids_a, ids_b = _id_set(self.ids[ra]), _id_set(self.ids[rb])
        if self.frozen[ra] or self.frozen[rb] or conflicting_ids(ids_a, ids_b):
            return False
        self.parent[rb] = ra
        self.ids[ra] = ids_a | ids_b
        return True


def blocked_pairs(
    records: Sequence[MatchFeatures], *, max_block: int, candidates_per_record: int
) -> Iterator[tuple[int, int]]:
    """Candidate pairs of a batch of records, through the same blocking keys as online."""
    index = BlockingIndex(max_block=max_block)
    keys = [record_keys(r) for r in records]
    for i, record_keys_i in enumerate(keys):
        index.add(i, record_keys_i)
    return candidate_pairs(index, keys, limit=candidates_per_record)


def link_batch_scalar(
    records: Sequence[MatchFeatures],
    model: MatchModel,
    *,
    max_block: int = 2_000,
    candidates_per_record: int = 50,
    fixed: Sequence[int | None] | None = None,
) -> BatchResult:
    """:func:`link_batch`, one pair at a time (the reference)."""
    tfs = [tf_values(r) for r in records]
    reviews: list[tuple[int, int, float]] = []
    scored: list[tuple[float, int, int]] = []
    review = total = 0
    pairs = blocked_pairs(records, max_block=max_block, candidates_per_record=candidates_per_record)
    for i, j in pairs:
        total += 1
        levels = compare(records[i], records[j])
        weight = model.match_weight(levels, tfs[i])
        probability = model.match_probability(weight)
        cap = ceiling(levels, hanzi=hanzi_names(records[i], records[j]))
        decision = capped(model.decide(probability), cap)
        if decision is Decision.LINK:
            scored.append((weight, i, j))
        elif decision is Decision.REVIEW:
            review += 1
            reviews.append((i, j, probability))
    ordered = sorted(scored, reverse=True)
    clusters, vetoed = _cluster(
        records, fixed, [i for _, i, _ in ordered], [j for *_, j in ordered]
    )
    return BatchResult(clusters, total, len(scored), review, vetoed, reviews)


def _cluster(
    records: Sequence[MatchFeatures],
    fixed: Sequence[int | None] | None,
    left: Sequence[int],
    right: Sequence[int],
) -> tuple[list[int], int]:
    """Cluster ids per record after merging the linked pairs in order; and the vetoed merges."""
    clusters = _Clusters([r.resident_id for r in records], fixed)
    vetoed = 0
    for i, j in zip(left, right, strict=True):
        if not clusters.union(i, j):
            vetoed += 1
    return [clusters.find(i) for i in range(len(records))], vetoed


def _decision_ranks(model: MatchModel, weights: NDArray[np.float64]) -> NDArray[np.int8]:
    """``model.decide(model.match_probability(w))`` of every weight, as ranks."""
    bound = 1000.0  # = model._MAX_WEIGHT
    probability = 1.0 / (1.0 + np.power(2.0, -np.clip(weights, -bound, bound)))
    upper, lower = model.upper_threshold, model.lower_threshold
    decided = np.where(probability >= lower, REVIEW_RANK, NEW_RANK)
    ranks = np.where(probability >= upper, LINK_RANK, decided).astype(np.int8)
    near = (np.abs(probability - upper) <= _THRESHOLD_MARGIN) | (
        np.abs(probability - lower) <= _THRESHOLD_MARGIN
    )
    rank = {Decision.NEW: NEW_RANK, Decision.REVIEW: REVIEW_RANK, Decision.LINK: LINK_RANK}
    for k in np.flatnonzero(near).tolist():
        ranks[k] = rank[model.decide(model.match_probability(float(weights[k])))]
    return ranks


def link_batch(
    records: Sequence[MatchFeatures],
    model: MatchModel,
    *,
    max_block: int = 2_000,
    candidates_per_record: int = 50,
    fixed: Sequence[int | None] | None = None,
) -> BatchResult:
    """Cluster ``records``; ``fixed[i]`` names a group a steward decided (records of one group
    stay together, and no other record joins it), None for a record the model decides."""
    left, right = blocked_pair_arrays([record_keys(r) for r in records], max_block=max_block,
                                      limit=candidates_per_record)  # fmt: skip
    columns = record_columns(records)
    levels = compare_pairs(columns, left, right)
    # TF values are the name's: looked up once per distinct name.
    weights = model.match_weights(levels, columns.name_tf_values, columns.name[left])
    hanzi = columns.hanzi_name[left] | columns.hanzi_name[right]
    decided = np.minimum(_decision_ranks(model, weights), ceilings(levels, hanzi))
    in_review = np.flatnonzero(decided == REVIEW_RANK)
    reviews = [
        (i, j, model.match_probability(w))
        for i, j, w in zip(left[in_review].tolist(), right[in_review].tolist(),
                           weights[in_review].tolist(), strict=True)
    ]  # fmt: skip
    linked = np.flatnonzero(decided == LINK_RANK)
    order = linked[np.lexsort((right[linked], left[linked], weights[linked]))[::-1]]
    clusters, vetoed = _cluster(records, fixed, left[order].tolist(), right[order].tolist())
    return BatchResult(clusters, len(left), len(linked), len(in_review), vetoed, reviews)
