"""The column-wise batch linkage gives what the pair-by-pair reference gives, exactly.

``link_batch`` (numpy) against ``link_batch_scalar`` (``compare``, ``match_weight``, ``ceiling``
one pair at a time) on realistic record sets, and each column-wise piece against its scalar
reference on random input: candidate pairs, comparison levels, weights, ceilings.
"""

from __future__ import annotations

import csv
import random
from datetime import date
from itertools import combinations, islice

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.demo.mpi_training_data import synthetic_features
from hub.mpi.matching.blocking import BlockingIndex, candidate_pairs
from hub.mpi.matching.blocking_arrays import blocked_pair_arrays
from hub.mpi.matching.compare import SPECS, compare, tf_values
from hub.mpi.matching.compare_columns import compare_pairs
from hub.mpi.matching.features import MatchFeatures, features_from_row
from hub.mpi.matching.household import _RANK, ceiling, ceilings
from hub.mpi.matching.identifiers import make_resident_id
from hub.mpi.matching.linkage import blocked_pairs, link_batch, link_batch_scalar
from hub.mpi.matching.record_columns import record_columns
from hub.mpi.training.em import train
from hub.mpi.training.from_features import (
    LOWER_THRESHOLD,
    UPPER_THRESHOLD,
    apply_domain_constraints,
    train_on_features,
)
from hub.mpi.training.registry import packaged_model
from tests.corpus import SHARED

FEBRL = SHARED / "corpus" / "linkage" / "febrl" / "dataset2.csv"


def _population(people: int, seed: int) -> list[MatchFeatures]:
    return [f for f, _ in synthetic_features(people, seed=seed)]


def test_link_batch_equals_the_scalar_reference_on_a_synthetic_population() -> None:
    records = _population(2_500, seed=5)
    model = train_on_features(records, seed=5)
    columns, scalar = link_batch(records, model), link_batch_scalar(records, model)
    assert columns == scalar  # clusters, counts and every review (pair and probability)
    assert scalar.linked_pairs > 1_000 and scalar.review_pairs > 0 and scalar.vetoed_merges > 0
    # A steward's groups hold on both paths.
    fixed: list[int | None] = [k % 7 if k % 50 == 0 else None for k in range(len(records))]
    assert link_batch(records, model, fixed=fixed) == link_batch_scalar(records, model, fixed=fixed)


def test_link_batch_equals_the_scalar_reference_when_lists_are_cut() -> None:
    records = _population(800, seed=9)
    model = packaged_model()
    for max_block, limit in ((40, 3), (5, 1), (2_000, 2)):
        expected = link_batch_scalar(records, model, max_block=max_block,
                                     candidates_per_record=limit)  # fmt: skip
        got = link_batch(records, model, max_block=max_block, candidates_per_record=limit)
        assert got == expected


def _febrl_row(r: dict[str, str]) -> dict[str, str]:
    street = " ".join(p for p in (r["street_number"], r["address_1"]) if p)
    parts = [p for p in (street, r["address_2"], f"{r['suburb']} {r['state']}".strip()) if p]
    return {"given_name": r["given_name"], "family_name": r["surname"],
            "birth_date": r["date_of_birth"], "id_system": "urn:febrl:ssid" if r["soc_sec_id"]
            else "", "id_number": r["soc_sec_id"], "address": ", ".join(parts),
            "postal_code": r["postcode"]}  # fmt: skip


def _febrl_features() -> list[MatchFeatures]:
    with FEBRL.open(encoding="utf-8") as text:
        rows = [{k.strip(): (v or "").strip() for k, v in r.items()}
                for r in csv.DictReader(text, skipinitialspace=True)]  # fmt: skip
    out = []
    for r in rows:
        try:
            out.append(features_from_row(_febrl_row(r)))
        except ValueError:
            continue
    return out


@pytest.mark.skipif(not FEBRL.is_file(), reason="the shared FEBRL corpus is not on this machine")
def test_link_batch_equals_the_scalar_reference_on_febrl_western_records() -> None:
    records = _febrl_features()  # western names, Latin addresses graded part by part
    model = train_on_features(records, seed=3)
    expected = link_batch_scalar(records, model)
    assert link_batch(records, model) == expected
    assert expected.linked_pairs > 500


# --- the pieces, on random input ------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=5), max_size=40),
    st.integers(1, 12),
    st.integers(1, 8),
)
def test_blocked_pair_arrays_equal_candidate_pairs(
    keys: list[list[str]], max_block: int, limit: int
) -> None:
    index = BlockingIndex(max_block=max_block)
    for i, record_keys in enumerate(keys):
        index.add(i, record_keys)
    low, high = blocked_pair_arrays(keys, max_block=max_block, limit=limit)
    pairs = list(zip(low.tolist(), high.tolist(), strict=True))
    assert pairs == list(candidate_pairs(index, keys, limit=limit))


ID_A = make_resident_id("420502", date(1980, 3, 2), 120, "male")
ID_B = make_resident_id("420502", date(1980, 3, 2), 122, "male")
NAMES = ["张伟", "章伟", "张玮", "张小伟", "伟张", "欧阳娜娜", "欧阳娜", "ZHANG WEI", "Zhang Wei",
         "吕芳", "LV FANG", "LU FANG", "王芳之子", "王芳", "买买提·艾力", "艾力·买买提",
         "John Smith", "Jon Smyth", "SMITH, John", "陈丹艳", "陈丹燕", "", "李娜"]  # fmt: skip
DATES = [None, date(1980, 3, 2), date(1980, 2, 3), date(1980, 3, 3), date(1981, 3, 2),
         date(1980, 8, 2), date(1979, 12, 30), date(1908, 3, 2), date(999, 3, 2)]  # fmt: skip
LOCAL_IDS = st.tuples(st.sampled_from(["s1", "s2"]), st.sampled_from(["100", "101", "200"]))
LINES = [None, "", "阳光花园2栋1单元603", "阳光花园2-1-603", "光花园2-1-603", "学院社区3号",
         "24 balfour crescent, killara lodge, cranbourne vic", "24 balfour cres, cranbourne vic",
         "12a milne cove, beaconsfield", "7-2-704"]  # fmt: skip
records_strategy = st.builds(
    MatchFeatures,
    family=st.just(""),
    given=st.just(""),
    full_name=st.sampled_from(NAMES),
    birth_date=st.sampled_from(DATES),
    sex=st.sampled_from([None, "", "male", "female"]),
    resident_id=st.sampled_from([None, "", ID_A, ID_B]),
    resident_id_raw=st.sampled_from([None, ID_A[:-1] + "0", ID_A[:17] + "9", "12345"]),
    insurance_number=st.sampled_from([None, "", "I1", "I2"]),
    local_ids=st.lists(LOCAL_IDS, max_size=2).map(tuple),
    phones=st.lists(st.sampled_from(["138", "139", "150"]), max_size=2, unique=True).map(tuple),
    district=st.sampled_from([None, "", "420502", "420503"]),
    township=st.sampled_from([None, "", "西陵街道", "鸦鹊岭镇"]),
    village=st.sampled_from([None, "", "学院社区", "阳光花园"]),
    line=st.sampled_from(LINES),
    postal_code=st.sampled_from([None, "", "443000", "443001", "4510"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(records_strategy, min_size=2, max_size=8))
def test_compare_pairs_gives_the_levels_of_compare(records: list[MatchFeatures]) -> None:
    pairs = [*combinations(range(len(records)), 2), *((j, i) for i, j in
             combinations(range(len(records)), 2))]  # fmt: skip
    a = np.array([i for i, _ in pairs], dtype=np.int64)
    b = np.array([j for _, j in pairs], dtype=np.int64)
    levels = compare_pairs(record_columns(records), a, b)
    expected = [compare(records[i], records[j]) for i, j in pairs]
    assert [tuple(row) for row in levels.tolist()] == expected


def test_compare_pairs_on_a_synthetic_population() -> None:
    records = list(islice(_population(1_500, seed=2), 3_000))
    rng = random.Random(2)
    pairs = [(rng.randrange(len(records)), rng.randrange(len(records))) for _ in range(20_000)]
    pairs += [(k, k + 1) for k in range(len(records) - 1)]  # neighbours: often one person
    a = np.array([i for i, _ in pairs], dtype=np.int64)
    b = np.array([j for _, j in pairs], dtype=np.int64)
    levels = compare_pairs(record_columns(records), a, b)
    assert [tuple(row) for row in levels.tolist()] == [compare(records[i], records[j])
                                                        for i, j in pairs]  # fmt: skip


level_vectors = st.tuples(*(st.integers(-1, len(spec.levels) - 1) for spec in SPECS))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(level_vectors, st.booleans()), min_size=1, max_size=50))
def test_ceilings_equal_ceiling(rows: list[tuple[tuple[int, ...], bool]]) -> None:
    levels = np.array([v for v, _ in rows], dtype=np.int8)
    hanzi = np.array([h for _, h in rows], dtype=bool)
    expected = [_RANK[ceiling(v, hanzi=h)] for v, h in rows]
    assert ceilings(levels, hanzi).tolist() == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(level_vectors, st.sampled_from(["zhang", "wei", "qx", ""]),
                          st.sampled_from(["wei", "fang", "zz", ""])), min_size=1,
                max_size=30))  # fmt: skip
def test_match_weights_are_the_same_floats_as_match_weight(
    rows: list[tuple[tuple[int, ...], str, str]],
) -> None:
    model = packaged_model()
    tfs = [(None, family or None, given or None, *([None] * 9)) for _, family, given in rows]
    vectors = np.array([v for v, _, _ in rows], dtype=np.int8)
    owners = np.arange(len(rows), dtype=np.int64)
    weights = model.match_weights(vectors, tfs, owners).tolist()
    assert weights == [model.match_weight(v, tf) for (v, _, _), tf in zip(rows, tfs, strict=True)]


def test_train_on_features_gives_the_model_of_the_pair_by_pair_comparison() -> None:
    records = _population(1_500, seed=4)
    pairs = blocked_pairs(records, max_block=2_000, candidates_per_record=50)
    scalar = train(list(records), compare, list(SPECS), pairs, tf_values=tf_values,
                   thresholds=(UPPER_THRESHOLD, LOWER_THRESHOLD), seed=4, version="v")  # fmt: skip
    expected = apply_domain_constraints(scalar).to_dict()
    got = train_on_features(records, seed=4, version="v").to_dict()
    expected.pop("trained_at"), got.pop("trained_at")
    assert got == expected  # m, u, prior and TF tables to the last bit
