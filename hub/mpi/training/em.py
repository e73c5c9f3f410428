"""Training a :class:`~hub.mpi.matching.model.MatchModel`: u from random pairs, m and λ by EM.

The recipe is Splink's, with the comparison function left to the caller:

1. ``u`` (agreement rates among non-matches) is counted on random record pairs, which are
   almost all non-matches (:func:`estimate_u`, Laplace-smoothed so no level has u = 0). In a
   small file full of duplicates "almost" is not enough: once EM has fitted λ and m, the
   matches' share λ·m is taken out of the counted u and EM runs again (:func:`train`).
2. ``m`` and λ are estimated by expectation–maximisation, u held fixed (:func:`estimate_m`).
   Vectors are few and repeat a lot, so they are counted first and EM runs on (distinct
   vector, count) with numpy: a million pairs cost one pass to count them.
3. What EM runs on matters. The candidate pairs of blocking are not a sample of all pairs: two
   different people who share a blocking key (same given name and surname, same birth date)
   agree on those fields far more often than the random-pair u says, and EM over candidate
   pairs alone explains them as matches (on synthetic data blocked on name, three times the
   true number of matches). :func:`train` therefore fits the mixture over *all* n(n-1)/2 pairs:
   every candidate pair with weight 1, plus the random pairs that are not candidates, weighted
   to stand for the rest (pairs blocking did not propose: nearly all non-matches). The fitted
   mixture weight is then directly the prior the model needs, the probability that two random
   records match. EM starts from a guess — the share of candidate pairs agreeing at the top level
   on at least half of their non-missing comparisons, times the candidate pairs, over all
   pairs. The posterior mass among candidates over the total is an estimate of blocking recall
   (``notes["estimated_blocking_recall"]``). A caller who knows λ passes ``prior=``: EM starts
   there and the model stores it as given.
4. Term frequencies (:func:`term_frequencies`) feed the TF adjustment of comparisons whose
   :class:`ComparisonSpec` asks for it, at the top (exact) level.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from hub.mpi.matching.model import ComparisonParams, ComparisonSpec, MatchModel
from hub.mpi.training.u_sampling import estimate_u, random_pairs, u_from, u_without_matches

__all__ = ["ComparisonSpec", "EMResult", "estimate_m", "estimate_u", "term_frequencies", "train"]

R = TypeVar("R")
Vector = tuple[int, ...]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class EMResult:
    m: list[list[float]]
    prior: float  # the mixture weight of matches among the vectors EM ran on
    iterations: int
    converged: bool
    log_likelihood: float
    u: list[list[float]]  # the u EM ended with (the input when fix_u)
    pairs: int = 0
    distinct_vectors: int = 0


def estimate_m(
    vectors: Sequence[Sequence[int]] | IntArray,
    u: list[list[float]],
    *,
    n_levels: list[int],
    prior: float,
    max_iter: int = 50,
    tol: float = 1e-6,
    fix_u: bool = True,
    smoothing: float = 1.0,
) -> EMResult:
    """EM for m and the match rate among these vectors (starting at ``prior``), u fixed by
    default. A missing comparison (-1) is skipped in both steps. ``smoothing`` is a pseudo-count
    added to every level in the M step, so no m (nor u) is ever 0."""
    if isinstance(vectors, np.ndarray):
        patterns, weights = _aggregate_array(vectors, n_levels)
    else:
        patterns, weights = _to_arrays(Counter(map(tuple, vectors)), len(n_levels))
    return _em(patterns, weights, u, n_levels, prior, max_iter, tol, fix_u, smoothing)


def term_frequencies(
    values: Iterable[str | None], *, max_values: int = 200_000
) -> dict[str, float]:
    """Relative frequency of each non-empty value; only the ``max_values`` most common are kept
    (the others fall to the comparison's ``tf_min`` floor when scoring)."""
    counts = Counter(v for v in values if v)
    total = sum(counts.values())
    if total == 0:
        return {}
    return {v: k / total for v, k in counts.most_common(max_values)}


def train(
    records: Sequence[R],
    compare: Callable[[R, R], Sequence[int]],
    specs: list[ComparisonSpec],
    candidate_pairs: Iterable[tuple[int, int]],
    *,
    tf_values: Callable[[R], Sequence[str | None]] | None = None,
    prior: float | None = None,
    thresholds: tuple[float, float] = (0.95, 0.5),
    seed: int = 0,
    u_pairs: int = 200_000,
    max_iter: int = 100,
    tol: float = 1e-6,
    fix_u: bool = True,
    version: str = "1",
    compare_many: Callable[[Sequence[tuple[int, int]]], list[Vector]] | None = None,
) -> MatchModel:
    """Estimate a whole model: u on random pairs, m and λ by EM over all pairs (module doc).
    ``candidate_pairs`` should hold each pair once. ``compare_many``, when given, returns the
    vectors ``compare`` gives for a list of pairs, in their order (a column-wise comparison)."""
    n, n_levels = len(records), [len(s.levels) for s in specs]
    if min(n_levels, default=0) < 2:
        raise ValueError("every comparison needs at least two levels")
    sample = random_pairs(n, u_pairs, seed)
    pairs = [(i, j) for i, j in candidate_pairs if i != j]
    vectors: Iterable[Vector]
    if compare_many is None:
        sampled = [tuple(compare(records[i], records[j])) for i, j in sample]
        vectors = (tuple(compare(records[i], records[j])) for i, j in pairs)
    else:
        sampled, vectors = compare_many(sample), compare_many(pairs)
    u = u_from(Counter(sampled), n_levels)
    candidates: Counter[Vector] = Counter(vectors)
    codes = array("q", (min(i, j) * n + max(i, j) for i, j in pairs))  # 8 bytes a pair
    if not codes:
        raise ValueError("no candidate pairs to train on")
    candidate_codes = np.unique(np.frombuffer(codes, dtype=np.int64))
    sample_codes = np.array([i * n + j for i, j in sample], dtype=np.int64)
    outside = ~np.isin(sample_codes, candidate_codes)
    all_pairs, n_candidates = n * (n - 1) / 2, len(candidate_codes)
    combined: defaultdict[Vector, float] = defaultdict(float, candidates)
    scale = (all_pairs - n_candidates) / max(int(outside.sum()), 1)
    for vector, keep in zip(sampled, outside.tolist(), strict=True):
        if keep:
            combined[vector] += scale
    patterns, weights = _to_arrays(combined, len(specs))
    cand_patterns, cand_weights = _to_arrays(candidates, len(specs))
    rate = _starting_rate(cand_patterns, cand_weights, n_levels)
    start = prior if prior is not None else min(max(rate * n_candidates / all_pairs, 1e-9), 0.5)
    em = _em(patterns, weights, u, n_levels, start, max_iter, tol, fix_u, 1.0)
    if fix_u and prior is None:  # the random pairs held matches too: take them out, refit
        u = u_without_matches(Counter(sampled), n_levels, em.prior, em.m)
        em = _em(patterns, weights, u, n_levels, em.prior, max_iter, tol, fix_u, 1.0)
    in_candidates = _expected_matches(cand_patterns, cand_weights, em)
    tf = _tf_tables(records, specs, tf_values)
    comparisons = [
        ComparisonParams(
            name=s.name,
            levels=list(s.levels),
            m=m_c,
            u=u_c,
            tf_level=len(s.levels) - 1 if s.name in tf else None,
            tf_min=_tf_floor(s, tf, n),
        )
        for s, m_c, u_c in zip(specs, em.m, u, strict=True)
    ]
    return MatchModel(
        version=version,
        comparisons=comparisons,
        prior=em.prior if prior is None else prior,
        tf=tf,
        upper_threshold=thresholds[0],
        lower_threshold=thresholds[1],
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        notes={
            "records": n,
            "random_pairs": len(sample),
            "random_pairs_outside_candidates": int(outside.sum()),
            "candidate_pairs": n_candidates,
            "distinct_vectors": em.distinct_vectors,
            "em_iterations": em.iterations,
            "em_converged": em.converged,
            "em_log_likelihood": em.log_likelihood,
            "prior_start": start,
            "estimated_prior": em.prior,
            "prior_source": "estimated" if prior is None else "given",
            "expected_matching_pairs": em.prior * all_pairs,
            "expected_matches_in_candidates": in_candidates,
            "estimated_blocking_recall": min(in_candidates / (em.prior * all_pairs), 1.0),
            "em_fix_u": fix_u,
            "seed": seed,
        },
    )


# -- internals -------------------------------------------------------------------------------


def _expected_matches(patterns: IntArray, weights: FloatArray, em: EMResult) -> float:
    """Posterior number of matches among some vectors under a fitted model."""
    present = patterns >= 0
    index = np.where(present, patterns, 0)
    m = [np.asarray(m_c) for m_c in em.m]
    u = [np.asarray(u_c) for u_c in em.u]
    post, _ = _expectation(index, present, weights, m, u, em.prior)
    return float((weights * post).sum())


def _to_arrays(counter: Mapping[Vector, float], width: int) -> tuple[IntArray, FloatArray]:
    keys = list(counter)
    if any(len(k) != width for k in keys):
        raise ValueError("the comparison vectors do not match n_levels")
    patterns = np.array(keys, dtype=np.int64).reshape(len(keys), width)
    weights = np.fromiter(counter.values(), dtype=np.float64, count=len(keys))
    return patterns, weights


def _aggregate_array(vectors: IntArray, n_levels: list[int]) -> tuple[IntArray, FloatArray]:
    """Distinct rows and their counts, each row packed into one int64 (mixed radix L + 1)."""
    rows = np.asarray(vectors, dtype=np.int64).reshape(len(vectors), len(n_levels))
    if rows.size and ((rows < -1).any() or (rows.max(axis=0) >= n_levels).any()):
        raise ValueError("a comparison level is out of range")
    radices = np.array(n_levels, dtype=np.int64) + 1
    if math.prod(int(r) for r in radices) >= 2**62:  # too wide to pack: sort whole rows
        patterns, counts = np.unique(rows, axis=0, return_counts=True)
        return patterns, counts.astype(np.float64)
    places = np.concatenate(([1], np.cumprod(radices[:-1])))
    codes, counts = np.unique((rows + 1) @ places, return_counts=True)
    patterns = (codes[:, None] // places) % radices - 1
    return patterns.astype(np.int64), counts.astype(np.float64)


def _starting_rate(patterns: IntArray, weights: FloatArray, n_levels: list[int]) -> float:
    """Share of pairs agreeing at the top level on at least half their non-missing comparisons."""
    top = np.zeros(len(patterns))
    present = np.zeros(len(patterns))
    for c, n_c in enumerate(n_levels):
        top += patterns[:, c] == n_c - 1
        present += patterns[:, c] >= 0
    strong = (present > 0) & (2 * top >= present)
    rate = float(weights[strong].sum() / weights.sum())
    return min(max(rate, 1e-3), 0.5)


def _em(
    patterns: IntArray,
    weights: FloatArray,
    u: list[list[float]],
    n_levels: list[int],
    prior: float,
    max_iter: int,
    tol: float,
    fix_u: bool,
    smoothing: float,
) -> EMResult:
    if len(u) != len(n_levels) or any(len(u_c) != n for u_c, n in zip(u, n_levels, strict=True)):
        raise ValueError("u does not match n_levels")
    if not 0.0 < prior < 1.0:
        raise ValueError("the starting prior must lie in (0, 1)")
    if patterns.size and ((patterns < -1).any() or (patterns.max(axis=0) >= n_levels).any()):
        raise ValueError("a comparison level is out of range")
    present = patterns >= 0
    index = np.where(present, patterns, 0)
    m_arr = [_skewed_start(n) for n in n_levels]
    u_arr = [np.asarray(u_c, dtype=np.float64) for u_c in u]
    lam = prior
    total = float(weights.sum())
    converged = False
    iterations = 0
    log_likelihood = -math.inf
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        post, log_likelihood = _expectation(index, present, weights, m_arr, u_arr, lam)
        w_match = weights * post
        new_lam = float(w_match.sum() / total) if total else lam
        new_lam = min(max(new_lam, 1e-12), 1.0 - 1e-12)
        new_m = _maximise(index, present, w_match, n_levels, smoothing)
        if not fix_u:
            u_arr = _maximise(index, present, weights - w_match, n_levels, smoothing)
        delta = max(  # λ may be tiny (a prior over all pairs): its change counts relatively
            abs(new_lam - lam) / lam,
            max(float(np.abs(a - b).max()) for a, b in zip(new_m, m_arr, strict=True)),
        )
        m_arr, lam = new_m, new_lam
        if delta < tol:
            converged = True
            break
    _, log_likelihood = _expectation(index, present, weights, m_arr, u_arr, lam)
    return EMResult(
        m=[a.tolist() for a in m_arr],
        prior=lam,
        iterations=iterations,
        converged=converged,
        log_likelihood=log_likelihood,
        u=[a.tolist() for a in u_arr],
        pairs=round(total),
        distinct_vectors=len(patterns),
    )


def _skewed_start(n: int) -> FloatArray:
    """Starting m for n levels: each level four times as likely as the one below."""
    start = np.power(4.0, np.arange(n, dtype=np.float64))
    result: FloatArray = start / start.sum()
    return result


def _expectation(
    index: IntArray,
    present: NDArray[np.bool_],
    weights: FloatArray,
    m: list[FloatArray],
    u: list[FloatArray],
    lam: float,
) -> tuple[FloatArray, float]:
    """Posterior match probability of every pattern, and the log-likelihood of the data."""
    log_m = np.full(len(index), math.log(lam))
    log_u = np.full(len(index), math.log1p(-lam))
    for c, (m_c, u_c) in enumerate(zip(m, u, strict=True)):
        log_m += np.where(present[:, c], np.log(m_c)[index[:, c]], 0.0)
        log_u += np.where(present[:, c], np.log(u_c)[index[:, c]], 0.0)
    log_both = np.logaddexp(log_m, log_u)
    post: FloatArray = np.exp(log_m - log_both)
    return post, float((weights * log_both).sum())


def _maximise(
    index: IntArray,
    present: NDArray[np.bool_],
    weights: FloatArray,
    n_levels: list[int],
    smoothing: float,
) -> list[FloatArray]:
    result = []
    for c, n in enumerate(n_levels):
        mask = present[:, c]
        counts = np.bincount(index[mask, c], weights=weights[mask], minlength=n) + smoothing
        result.append(counts / counts.sum())
    return result


def _tf_tables(
    records: Sequence[R],
    specs: list[ComparisonSpec],
    tf_values: Callable[[R], Sequence[str | None]] | None,
) -> dict[str, dict[str, float]]:
    wanted = [k for k, s in enumerate(specs) if s.tf]
    if tf_values is None or not wanted:
        return {}
    columns: list[list[str | None]] = [[] for _ in wanted]
    for record in records:
        values = tf_values(record)
        for column, k in zip(columns, wanted, strict=True):
            column.append(values[k])
    tables = {specs[k].name: term_frequencies(col) for k, col in zip(wanted, columns, strict=True)}
    return {name: table for name, table in tables.items() if table}


def _tf_floor(spec: ComparisonSpec, tf: dict[str, dict[str, float]], n_records: int) -> float:
    """The spec's floor, else the frequency of a value seen once (or less, if capped)."""
    if spec.tf_min is not None:
        return spec.tf_min
    table = tf.get(spec.name)
    if not table:
        return 1e-6
    return min(min(table.values()), 1.0 / max(n_records, 1))
