"""Connected components and pairwise metrics (checked against a brute-force pair count)."""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence

import pytest

from hub.mpi.matching.blocking import pairs_from_clusters
from hub.mpi.matching.clustering import Metrics, connected_components, pairwise_metrics


def test_connected_components() -> None:
    assert connected_components(0, []) == []
    assert connected_components(4, []) == [0, 1, 2, 3]
    assert connected_components(6, [(4, 5), (1, 3), (3, 0)]) == [0, 0, 1, 0, 2, 2]
    assert connected_components(5, [(0, 4), (4, 2), (2, 0), (1, 1)]) == [0, 1, 0, 2, 0]


def test_long_chain_is_one_component() -> None:
    n = 50_000
    labels = connected_components(n, ((i, i + 1) for i in range(n - 1)))
    assert set(labels) == {0}


def test_metrics_by_hand() -> None:
    truth = ["A", "A", "A", "B", "B", "C"]  # pairs 01 02 12 34
    predicted = [1, 1, 2, 2, 2, 3]  # pairs 01 23 24 34
    metrics = pairwise_metrics(predicted, truth)
    assert metrics == Metrics(precision=0.5, recall=0.5, f1=0.5, tp=2, fp=2, fn=2)
    perfect = pairwise_metrics([7, 7, 7, 8, 8, 9], truth)
    assert (perfect.precision, perfect.recall, perfect.f1) == (1.0, 1.0, 1.0)
    nothing = pairwise_metrics(list(range(6)), truth)
    assert (nothing.precision, nothing.recall, nothing.f1, nothing.fn) == (1.0, 0.0, 0.0, 4)
    lumped = pairwise_metrics([0] * 6, truth)
    assert (lumped.tp, lumped.fp, lumped.fn) == (4, 11, 0)
    assert lumped.precision == pytest.approx(4 / 15)
    with pytest.raises(ValueError):
        pairwise_metrics([1, 2], [1])


def _brute_force(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> tuple[int, int, int]:
    p, t = pairs_from_clusters(predicted), pairs_from_clusters(truth)
    return len(p & t), len(p - t), len(t - p)


@pytest.mark.parametrize("seed", range(20))
def test_metrics_equal_brute_force_on_random_clusterings(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randrange(1, 200)
    truth = [rng.randrange(max(1, n // 3)) for _ in range(n)]
    predicted = [t if rng.random() < 0.7 else rng.randrange(n) for t in truth]
    metrics = pairwise_metrics(predicted, truth)
    tp, fp, fn = _brute_force(predicted, truth)
    assert (metrics.tp, metrics.fp, metrics.fn) == (tp, fp, fn)
    if tp + fp and tp + fn:
        precision, recall = tp / (tp + fp), tp / (tp + fn)
        assert metrics.precision == pytest.approx(precision)
        assert metrics.recall == pytest.approx(recall)
        if tp:
            assert metrics.f1 == pytest.approx(2 * precision * recall / (precision + recall))
