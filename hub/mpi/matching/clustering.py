"""From pairwise links to people, and how good the result is.

:func:`connected_components` groups records linked directly or through others (batch
linkage: every pair scored above the upper threshold is a link). :func:`pairwise_metrics`
compares a clustering with the truth pair by pair — precision, recall and F1 over the pairs of
records put together — using the contingency of cluster sizes, so a million records in large
clusters cost one pass instead of materialising every pair.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Metrics:
    precision: float  # 1.0 when nothing is linked
    recall: float  # 1.0 when there is nothing to find
    f1: float
    tp: int  # pairs together in both clusterings
    fp: int  # together in the prediction only
    fn: int  # together in the truth only


def connected_components(n: int, links: Iterable[tuple[int, int]]) -> list[int]:
    """Component label of each of the records ``0 .. n-1``: labels are ``0, 1, 2, ...`` in the
    order of each component's lowest record (union–find with union by size and path halving)."""
    parent = list(range(n))
    size = [1] * n

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        if size[ra] < size[rb]:
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
    labels: dict[int, int] = {}
    return [labels.setdefault(find(x), len(labels)) for x in range(n)]


def pairwise_metrics(
    predicted_clusters: Sequence[Hashable], true_clusters: Sequence[Hashable]
) -> Metrics:
    """Pairwise precision, recall and F1 of a clustering (one cluster label per record)."""
    if len(predicted_clusters) != len(true_clusters):
        raise ValueError("both clusterings must label the same records")
    both = _pairs(Counter(zip(predicted_clusters, true_clusters, strict=True)).values())
    predicted = _pairs(Counter(predicted_clusters).values())
    true = _pairs(Counter(true_clusters).values())
    tp, fp, fn = both, predicted - both, true - both
    precision = tp / predicted if predicted else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Metrics(precision, recall, f1, tp, fp, fn)


def _pairs(sizes: Iterable[int]) -> int:
    return sum(k * (k - 1) // 2 for k in sizes)
