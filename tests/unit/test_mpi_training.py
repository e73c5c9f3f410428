"""Training: u from random pairs, EM for m and the prior, term frequencies, and FEBRL end to end."""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Sequence

import numpy as np
import pytest
from rapidfuzz.distance import JaroWinkler, Levenshtein

from hub.mpi.matching.blocking import (
    BlockingIndex,
    blocking_recall,
    candidate_pairs,
    pairs_from_clusters,
)
from hub.mpi.matching.clustering import connected_components, pairwise_metrics
from hub.mpi.matching.model import Decision, MatchModel
from hub.mpi.training.em import ComparisonSpec, estimate_m, estimate_u, term_frequencies, train
from tests.corpus import SHARED

TRUE_M = [[0.05, 0.15, 0.8], [0.1, 0.9], [0.02, 0.08, 0.2, 0.7], [0.3, 0.7]]
TRUE_U = [[0.9, 0.08, 0.02], [0.85, 0.15], [0.7, 0.2, 0.07, 0.03], [0.6, 0.4]]
N_LEVELS = [len(m) for m in TRUE_M]


def _synthetic_vectors(n: int, prior: float, seed: int) -> list[tuple[int, ...]]:
    """Comparison vectors of n pairs drawn from the true m/u, 5 % of comparisons missing."""
    rng = random.Random(seed)
    vectors = []
    for _ in range(n):
        table = TRUE_M if rng.random() < prior else TRUE_U
        vectors.append(
            tuple(
                -1 if rng.random() < 0.05 else rng.choices(range(len(p)), weights=p)[0]
                for p in table
            )
        )
    return vectors


def _assert_close(estimated: list[list[float]], true: list[list[float]], tol: float) -> None:
    for est_c, true_c in zip(estimated, true, strict=True):
        assert est_c == pytest.approx(true_c, abs=tol)
        assert sum(est_c) == pytest.approx(1.0)


def test_em_recovers_m_and_the_prior() -> None:
    vectors = _synthetic_vectors(40_000, prior=0.15, seed=1)
    result = estimate_m(vectors, TRUE_U, n_levels=N_LEVELS, prior=0.5)
    assert result.converged
    _assert_close(result.m, TRUE_M, 0.05)
    assert 0.15 / 2 < result.prior < 0.15 * 2
    assert result.prior == pytest.approx(0.15, abs=0.02)
    assert result.u == TRUE_U
    assert result.pairs == 40_000
    assert result.distinct_vectors < 200  # few distinct patterns: EM runs on counts


def test_em_with_free_u_and_numpy_input() -> None:
    vectors = _synthetic_vectors(40_000, prior=0.2, seed=2)
    as_list = estimate_m(vectors, TRUE_U, n_levels=N_LEVELS, prior=0.1, fix_u=False)
    _assert_close(as_list.m, TRUE_M, 0.05)
    _assert_close(as_list.u, TRUE_U, 0.05)
    assert as_list.prior == pytest.approx(0.2, abs=0.03)
    as_array = estimate_m(np.array(vectors), TRUE_U, n_levels=N_LEVELS, prior=0.1, fix_u=False)
    for from_array, from_list in zip(as_array.m, as_list.m, strict=True):
        assert from_array == pytest.approx(from_list)
    assert as_array.prior == pytest.approx(as_list.prior)
    assert as_array.log_likelihood == pytest.approx(as_list.log_likelihood)


def test_em_refuses_inconsistent_input() -> None:
    with pytest.raises(ValueError):
        estimate_m([(0, 1, 3, 5)], TRUE_U, n_levels=N_LEVELS, prior=0.1)
    with pytest.raises(ValueError):
        estimate_m([(0, 1)], TRUE_U, n_levels=N_LEVELS, prior=0.1)
    with pytest.raises(ValueError):
        estimate_m([(0, 1, 3, 1)], TRUE_U, n_levels=N_LEVELS, prior=1.0)


def _compare_people(a: tuple[str | None, str], b: tuple[str | None, str]) -> tuple[int, int]:
    first = -1 if a[0] is None or b[0] is None else int(a[0] == b[0])
    return first, int(a[1] == b[1])


def test_u_from_random_pairs_matches_the_value_distribution() -> None:
    rng = random.Random(3)
    colours = ["red", "green", "blue", "grey"]  # P(agree) = 0.5² + 3 × (1/6)² = 1/3
    records = [
        (
            None if rng.random() < 0.1 else rng.choice("abcdefghij"),  # P(agree) = 0.1
            rng.choices(colours, weights=[3, 1, 1, 1])[0],
        )
        for _ in range(5_000)
    ]
    u = estimate_u(records, _compare_people, [2, 2], pairs=60_000, seed=0)
    assert u[0] == pytest.approx([0.9, 0.1], abs=0.01)
    assert u[1] == pytest.approx([2 / 3, 1 / 3], abs=0.01)
    assert estimate_u(records, _compare_people, [2, 2], pairs=1_000, seed=5) == estimate_u(
        records, _compare_people, [2, 2], pairs=1_000, seed=5
    )


def test_u_is_smoothed_so_no_level_is_zero() -> None:
    records = [("a", str(i)) for i in range(100)]  # the second field never agrees
    u = estimate_u(records, _compare_people, [2, 2], pairs=500)
    assert all(p > 0 for row in u for p in row)
    assert u[1][1] == pytest.approx(1 / 502)
    with pytest.raises(ValueError):
        estimate_u(records[:1], _compare_people, [2, 2])


def test_term_frequencies() -> None:
    tf = term_frequencies(["wang", "li", None, "wang", "", "zhang", "wang", "li"])
    assert tf == pytest.approx({"wang": 0.5, "li": 1 / 3, "zhang": 1 / 6})
    assert term_frequencies([None, ""]) == {}
    capped = term_frequencies(["a", "a", "a", "b", "b", "c"], max_values=2)
    assert capped == pytest.approx({"a": 0.5, "b": 1 / 3})


Person5 = tuple[str, str, str, str, str]


def _synthetic_people(seed: int) -> tuple[list[Person5], list[int]]:
    """3,000 people (given name, surname, birth date, district, phone) and a corrupted copy of
    600 of them: one or two fields mistyped or missing."""
    rng = random.Random(seed)
    surnames = [f"sn{k}" for k in range(300)]
    weights = [1 / (k + 1) for k in range(300)]  # a few very common surnames
    people = [
        (
            f"gn{rng.randrange(200)}",
            rng.choices(surnames, weights)[0],
            f"d{rng.randrange(20_000)}",
            f"dist{rng.randrange(30)}",
            f"{rng.randrange(10**8):08d}",
        )
        for _ in range(3_000)
    ]
    records, truth = list(people), list(range(len(people)))
    for person in rng.sample(range(len(people)), 600):
        copy = list(people[person])
        for field in rng.sample(range(5), rng.choice((1, 2))):
            copy[field] = copy[field] + "x" if rng.random() < 0.7 else ""
        records.append((copy[0], copy[1], copy[2], copy[3], copy[4]))
        truth.append(person)
    return records, truth


def _compare_synthetic(a: Person5, b: Person5) -> tuple[int, ...]:
    return tuple(-1 if not x or not y else int(x == y) for x, y in zip(a, b, strict=True))


def test_train_estimates_the_prior_and_builds_tf_tables() -> None:
    records, truth = _synthetic_people(seed=4)
    keys = [[f"d:{r[2]}", f"gs:{r[0]}|{r[1]}", f"p:{r[4]}"] for r in records]
    index = BlockingIndex(max_block=1_000)
    for i, record_keys in enumerate(keys):
        index.add(i, record_keys)
    pairs = list(candidate_pairs(index, keys))
    true_pairs = pairs_from_clusters(truth)
    assert blocking_recall(true_pairs, pairs) > 0.95
    specs = [
        ComparisonSpec("given", ("other", "exact")),
        ComparisonSpec("surname", ("other", "exact"), tf=True),
        ComparisonSpec("birth", ("other", "exact")),
        ComparisonSpec("district", ("other", "exact")),
        ComparisonSpec("phone", ("other", "exact")),
    ]
    model = train(
        records,
        _compare_synthetic,
        specs,
        pairs,
        tf_values=lambda r: (None, r[1] or None, None, None, None),
        u_pairs=20_000,
    )
    true_prior = len(true_pairs) / (len(records) * (len(records) - 1) / 2)
    assert true_prior / 2 < model.prior < true_prior * 2  # non-matches blocked on names
    true_vectors = [_compare_synthetic(records[i], records[j]) for i, j in true_pairs]
    for c, comparison in enumerate(model.comparisons):  # ... are not taken for matches
        agree = [v[c] for v in true_vectors if v[c] >= 0]
        assert comparison.m[1] == pytest.approx(sum(agree) / len(agree), abs=0.06)
    assert model.notes["prior_source"] == "estimated"
    assert model.notes["candidate_pairs"] == len(pairs)
    surname = model.comparisons[1]
    assert surname.tf_level == 1 and model.comparisons[0].tf_level is None
    assert set(model.tf) == {"surname"}
    assert model.tf["surname"]["sn0"] > model.tf["surname"]["sn200"]
    assert surname.tf_min <= min(model.tf["surname"].values())
    assert MatchModel.from_json(model.to_json()) == model
    fixed = train(records, _compare_synthetic, specs, pairs, prior=1e-3, u_pairs=2_000)
    assert fixed.prior == 1e-3 and fixed.notes["prior_source"] == "given"
    assert fixed.tf == {}


def _dense_people(seed: int) -> tuple[list[tuple[str, ...]], list[tuple[int, int]]]:
    """100 people, 6 records each (one random pair in 120 is a match): an identifier, a name
    (of 40) and a birth date (of 300), each retyped at random in a record one time in ten."""
    rng = random.Random(seed)
    records, owners = [], []
    for p in range(100):
        person = (f"id{p}", f"n{rng.randrange(40)}", f"d{rng.randrange(300)}")
        for _ in range(6):
            records.append(tuple(
                v if rng.random() < 0.9 else f"{v[0]}{rng.randrange(10**6)}" for v in person
            ))  # fmt: skip
            owners.append(p)
    n = len(records)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if owners[i] == owners[j]]
    return records, pairs


def _compare_fields(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(int(x == y) for x, y in zip(a, b, strict=True))


def test_u_leaves_out_the_matches_among_random_pairs() -> None:
    records, pairs = _dense_people(seed=3)
    specs = [ComparisonSpec(name, ("no", "yes")) for name in ("id", "name", "birth")]
    sampled = estimate_u(records, _compare_fields, [2, 2, 2], pairs=20_000, seed=0)
    model = train(records, _compare_fields, specs, pairs, u_pairs=20_000, seed=0)
    assert sampled[0][1] > 0.005  # as counted: the matches among the random pairs agree
    assert model.comparisons[0].u[1] < sampled[0][1] / 5  # as among non-matches: never
    assert model.prior == pytest.approx(1500 / (600 * 599 / 2), rel=0.15)


def test_train_refuses_empty_candidates() -> None:
    records = [("a", "x"), ("b", "y"), ("a", "x")]
    specs = [ComparisonSpec("first", ("no", "yes")), ComparisonSpec("colour", ("no", "yes"))]
    with pytest.raises(ValueError):
        train(records, _compare_people, specs, [], u_pairs=100)


# -- FEBRL dataset 2: 5,000 synthetic Australian records, 4,000 people, 1,934 true pairs -------

FEBRL = SHARED / "corpus" / "linkage" / "febrl"
FIELDS = ("given_name", "surname", "address_1", "suburb", "postcode", "date_of_birth", "soc_sec_id")
GIVEN, SURNAME, STREET, SUBURB, POSTCODE, DOB, SSN = range(len(FIELDS))
Person = tuple[str, ...]

SPECS = [
    ComparisonSpec("given_name", ("other", "jw80", "jw92", "exact"), tf=True),
    ComparisonSpec("surname", ("other", "jw80", "jw92", "exact"), tf=True),
    ComparisonSpec("date_of_birth", ("other", "one_char", "exact")),
    ComparisonSpec("soc_sec_id", ("other", "one_char", "exact")),
    ComparisonSpec("postcode", ("other", "one_char", "exact")),
    ComparisonSpec("suburb", ("other", "jw90", "exact")),
    ComparisonSpec("street", ("other", "jw90", "exact")),
]


def _name_level(a: str, b: str) -> int:
    if not a or not b:
        return -1
    if a == b:
        return 3
    similarity = JaroWinkler.similarity(a, b)
    return 2 if similarity >= 0.92 else 1 if similarity >= 0.8 else 0


def _edit_level(a: str, b: str) -> int:
    if not a or not b:
        return -1
    return 2 if a == b else 1 if Levenshtein.distance(a, b) <= 1 else 0


def _fuzzy_level(a: str, b: str) -> int:
    if not a or not b:
        return -1
    return 2 if a == b else 1 if JaroWinkler.similarity(a, b) >= 0.9 else 0


def _compare_febrl(x: Person, y: Person) -> tuple[int, ...]:
    return (
        _name_level(x[GIVEN], y[GIVEN]),
        _name_level(x[SURNAME], y[SURNAME]),
        _edit_level(x[DOB], y[DOB]),
        _edit_level(x[SSN], y[SSN]),
        _edit_level(x[POSTCODE], y[POSTCODE]),
        _fuzzy_level(x[SUBURB], y[SUBURB]),
        _fuzzy_level(x[STREET], y[STREET]),
    )


def _tf_values(x: Person) -> Sequence[str | None]:
    return (x[GIVEN] or None, x[SURNAME] or None, None, None, None, None, None)


def _blocking_keys(x: Person) -> list[str]:
    keys = []
    if x[SSN]:
        keys.append("ssn:" + x[SSN])
    if x[DOB]:
        keys.append("dob:" + x[DOB])
    if x[SURNAME] and x[POSTCODE]:
        keys.append(f"sn+pc:{x[SURNAME]}|{x[POSTCODE]}")
    if x[GIVEN] and x[DOB]:
        keys.append(f"gn2+yob:{x[GIVEN][:2]}|{x[DOB][:4]}")
    if x[GIVEN] and x[SURNAME]:
        keys.append(f"gn+sn:{x[GIVEN]}|{x[SURNAME]}")
    return keys


def _load_febrl() -> tuple[list[Person], list[str]]:
    path = FEBRL / "dataset2.csv"
    if not path.exists():
        pytest.skip(f"FEBRL dataset 2 not found at {path} (shared corpus not mounted)")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, skipinitialspace=True))
    truth = []
    for row in rows:
        match = re.fullmatch(r"rec-(\d+)-(org|dup-\d+)", row["rec_id"].strip())
        assert match, "unexpected rec_id"
        truth.append(match.group(1))
    records = [tuple((row[f] or "").strip() for f in FIELDS) for row in rows]  # no rec_id
    return records, truth


def test_febrl_dataset2_end_to_end() -> None:
    records, truth = _load_febrl()
    keys = [_blocking_keys(r) for r in records]
    index = BlockingIndex(max_block=5_000)
    for i, record_keys in enumerate(keys):
        index.add(i, record_keys)
    pairs = list(candidate_pairs(index, keys, limit=500))
    true_pairs = pairs_from_clusters(truth)
    assert len(true_pairs) == 1934
    recall = blocking_recall(true_pairs, pairs)

    model = train(
        records,
        _compare_febrl,
        SPECS,
        pairs,
        tf_values=_tf_values,
        thresholds=(0.9, 0.5),  # fixed beforehand, not tuned on the truth
        seed=0,
        u_pairs=100_000,
    )
    model = MatchModel.from_json(model.to_json())  # what is scored is what was saved
    links = []
    for i, j in pairs:
        weight = model.match_weight(_compare_febrl(records[i], records[j]), _tf_values(records[i]))
        if model.decide(model.match_probability(weight)) is Decision.LINK:
            links.append((i, j))
    metrics = pairwise_metrics(connected_components(len(records), links), truth)
    print(
        f"\nFEBRL-2: candidates={len(pairs)} blocking recall={recall:.4f} "
        f"prior={model.prior:.3g} (true {1934 / (5000 * 4999 / 2):.3g}) "
        f"EM iterations={model.notes['em_iterations']} precision={metrics.precision:.4f} "
        f"recall={metrics.recall:.4f} F1={metrics.f1:.4f}"
    )
    assert recall >= 0.98
    assert model.notes["em_converged"]
    assert metrics.f1 >= 0.95
