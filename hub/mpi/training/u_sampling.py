"""u, the agreement rates among non-matches, counted on random record pairs.

Random pairs are almost all non-matches; :func:`u_without_matches` takes out the share that is
not, once EM has fitted the prior and m (see :mod:`hub.mpi.training.em`).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

R = TypeVar("R")
Vector = tuple[int, ...]


def estimate_u(
    records: Sequence[R],
    compare: Callable[[R, R], Sequence[int]],
    n_levels: list[int],
    *,
    pairs: int = 200_000,
    seed: int = 0,
) -> list[list[float]]:
    """P(level | non-match) per comparison, counted on ``pairs`` random pairs of records."""
    sample = random_pairs(len(records), pairs, seed)
    return u_from(Counter(tuple(compare(records[i], records[j])) for i, j in sample), n_levels)


def random_pairs(n: int, count: int, seed: int) -> list[tuple[int, int]]:
    """``count`` pairs (i, j), i < j, drawn uniformly (with replacement) among n records."""
    if n < 2:
        raise ValueError("random pairs need at least two records")
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        i, j = rng.randrange(n), rng.randrange(n - 1)
        if j >= i:  # j uniform among the other records
            j += 1
        pairs.append((i, j) if i < j else (j, i))
    return pairs


def u_from(counts: Mapping[Vector, int], n_levels: list[int]) -> list[list[float]]:
    """Laplace-smoothed level frequencies per comparison of counted vectors."""
    table = [[0] * n_c for n_c in n_levels]
    for vector, k in counts.items():
        if len(vector) != len(n_levels):
            raise ValueError("the comparison vector does not match n_levels")
        for row, level in zip(table, vector, strict=True):
            if level >= 0:
                row[level] += k
    return [[(k + 1) / (sum(row) + len(row)) for k in row] for row in table]


def u_without_matches(
    counts: Mapping[Vector, int], n_levels: list[int], prior: float, m: list[list[float]]
) -> list[list[float]]:
    """u with the matches among the random pairs taken out: a random pair is a match with
    probability λ (the fitted prior over all pairs), so the sampled level frequencies are
    (1 - λ) u + λ m. Negligible in a large population (λ ~ 1e-6); in a small file full of
    duplicates (λ ~ 1e-2) agreeing on an identifier would otherwise look ten times commoner
    among non-matches than it is. Each level keeps the Laplace floor of one count."""
    present = [0] * len(n_levels)
    for vector, k in counts.items():
        for c, level in enumerate(vector):
            if level >= 0:
                present[c] += k
    sampled = u_from(counts, n_levels)
    lam = prior
    result = []
    for u_c, m_c, total, n_c in zip(sampled, m, present, n_levels, strict=True):
        floor = 1.0 / (total + n_c)
        row = [max((u - lam * m) / (1.0 - lam), floor) for u, m in zip(u_c, m_c, strict=True)]
        result.append([x / sum(row) for x in row])
    return result
