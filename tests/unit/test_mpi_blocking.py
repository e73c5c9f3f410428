"""Blocking index: OR blocking, oversized blocks, ranking, removal, pairs and recall."""

from __future__ import annotations

import random
from itertools import combinations

import pytest

from hub.mpi.matching.blocking import (
    BlockingIndex,
    blocking_recall,
    candidate_pairs,
    pairs_from_clusters,
)


def _index(records: dict[int, list[str]], max_block: int = 5_000) -> BlockingIndex:
    index = BlockingIndex(max_block=max_block)
    for record_id, keys in records.items():
        index.add(record_id, keys)
    return index


def test_candidates_are_the_union_over_keys() -> None:
    index = _index({0: ["dob:1", "ssn:a"], 1: ["dob:1"], 2: ["ssn:b"], 3: ["ssn:a"], 4: ["x"]})
    assert len(index) == 5
    assert 4 in index and 9 not in index
    assert index.candidates(["dob:1"]) == [0, 1]
    assert index.candidates(["ssn:b"]) == [2]
    assert index.candidates(["nothing"]) == []
    assert sorted(index.candidates(["dob:1", "ssn:a", "ssn:b"])) == [0, 1, 2, 3]
    assert index.candidates(["dob:1", "ssn:a"], exclude=0) == [1, 3]
    assert index.candidates(["dob:1"], exclude=0) == [1]
    assert index.candidates(["dob:1", "dob:1"]) == [0, 1]  # repeated keys count once


def test_ids_sharing_more_keys_come_first_and_limit_cuts() -> None:
    index = _index({5: ["a"], 3: ["a", "b"], 7: ["a", "b", "c"], 1: ["c"], 2: ["a"]})
    assert index.candidates(["a", "b", "c"]) == [7, 3, 1, 2, 5]
    assert index.candidates(["a", "b", "c"], limit=2) == [7, 3]
    assert index.candidates(["a"], limit=2) == [2, 3]
    assert index.stats.truncated == 2


def test_oversized_blocks_are_skipped_and_counted() -> None:
    index = _index({i: ["surname:wang", f"dob:{i % 2}"] for i in range(6)}, max_block=3)
    assert index.block_size("surname:wang") == 6
    assert index.candidates(["surname:wang"]) == []
    assert index.candidates(["surname:wang", "dob:1"]) == [1, 3, 5]
    assert index.stats.keys_skipped == 2
    assert index.stats.keys_used == 1
    assert index.oversized_blocks() == [("surname:wang", 6)]
    with pytest.raises(ValueError):
        BlockingIndex(max_block=0)


def test_remove_and_readd() -> None:
    index = _index({0: ["a", "b"], 1: ["a"], 2: ["b"]})
    index.remove(0)
    index.remove(42)  # unknown: ignored
    assert len(index) == 2
    assert index.candidates(["a", "b"]) == [1, 2]
    index.remove(1)
    assert index.block_size("a") == 0
    index.add(2, ["c"])  # re-adding replaces the keys
    assert index.keys_of(2) == ("c",)
    assert index.candidates(["b"]) == []
    assert index.candidates(["c"]) == [2]
    index.add(3, ["c", "", "c"])
    assert index.keys_of(3) == ("c",)


def _brute_force_pairs(records_keys: list[list[str]], index: BlockingIndex) -> set[tuple[int, int]]:
    usable = [
        {k for k in keys if 0 < index.block_size(k) <= index.max_block} for keys in records_keys
    ]
    return {(i, j) for i, j in combinations(range(len(records_keys)), 2) if usable[i] & usable[j]}


def test_candidate_pairs_match_brute_force_and_are_unique() -> None:
    rng = random.Random(7)
    records_keys = [
        [f"k{rng.randrange(40)}" for _ in range(rng.randrange(0, 4))] + ["common"]
        for _ in range(300)
    ]
    index = BlockingIndex(max_block=50)
    for i, keys in enumerate(records_keys):
        index.add(i, keys)
    pairs = list(candidate_pairs(index, records_keys, limit=10_000))
    assert len(pairs) == len(set(pairs))
    assert all(i < j for i, j in pairs)
    assert set(pairs) == _brute_force_pairs(records_keys, index)
    limited = list(candidate_pairs(index, records_keys, limit=3))
    assert len(limited) == len(set(limited))
    assert all(i < j for i, j in limited)
    assert set(limited) <= set(pairs)


def test_blocking_recall() -> None:
    truth = {(0, 1), (2, 3), (4, 5), (6, 7)}
    assert blocking_recall(truth, [(1, 0), (3, 2), (8, 9)]) == 0.5
    assert blocking_recall(truth, [(0, 1), (0, 1)]) == 0.25  # a repeated pair counts once
    assert blocking_recall(truth, []) == 0.0
    assert blocking_recall([], [(0, 1)]) == 1.0


def test_pairs_from_clusters() -> None:
    assert pairs_from_clusters(["a", "b", "a", "c", "a", "b"]) == {
        (0, 2),
        (0, 4),
        (2, 4),
        (1, 5),
    }
    assert pairs_from_clusters([1, 2, 3]) == set()
