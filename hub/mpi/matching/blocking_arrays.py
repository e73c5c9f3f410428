"""The candidate pairs of a batch, computed column-wise (numpy) instead of lookup by lookup.

:func:`blocked_pair_arrays` returns exactly the pairs of
:func:`hub.mpi.matching.blocking.candidate_pairs` over a :class:`~hub.mpi.matching.blocking.
BlockingIndex` holding the same records, in the same order: every record's list ranked by the
number of keys it shares with the other record (then the lower id) and cut at ``limit``; a pair
emitted by its lower record, or by its higher one when the lower record's list was cut and left
it out. Instead of a lookup per record (a Counter over its blocks), every pair inside a usable
block is generated at once, and shared keys are counted by sorting pair codes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]


def _incidences(records_keys: Sequence[Sequence[str]]) -> tuple[IntArray, IntArray]:
    """(record, key code) for every non-empty key of every record, sorted by key, then
    record, each once."""
    codes: dict[str, int] = {"": 0}  # the empty key: dropped below
    keys = np.fromiter(
        (codes.setdefault(key, len(codes)) for keys in records_keys for key in keys),
        dtype=np.int64,
    )
    records = np.repeat(np.arange(len(records_keys)), [len(keys) for keys in records_keys])
    order = np.argsort(keys, kind="stable")  # records stay ascending within a key
    keys, records = keys[order], records[order]
    again = np.r_[False, (keys[1:] == keys[:-1]) & (records[1:] == records[:-1])]
    kept = (keys > 0) & ~again  # a key a record carries twice counts once
    return records[kept], keys[kept]


def _pairs_within_blocks(
    members: IntArray, block_of: IntArray, max_block: int
) -> tuple[IntArray, IntArray]:
    """(lower, higher) record of every pair sharing a block of 2 .. max_block records, once
    per block they share; ``members`` sorted by block, then record."""
    sizes = np.bincount(block_of) if len(block_of) else np.zeros(0, dtype=np.int64)
    usable = (sizes >= 2) & (sizes <= max_block)
    keep = usable[block_of]
    members, block_of = members[keep], block_of[keep]
    if not len(members):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    starts = np.flatnonzero(np.r_[True, block_of[1:] != block_of[:-1]])
    lengths = np.diff(np.r_[starts, len(members)])
    offset = np.arange(len(members)) - np.repeat(starts, lengths)  # position in its block
    later = np.repeat(lengths, lengths) - offset - 1  # members after it in its block
    first = np.repeat(np.arange(len(members)), later)
    run_start = np.repeat(np.cumsum(later) - later, later)
    second = first + 1 + (np.arange(len(first)) - run_start)
    return members[first], members[second]


def blocked_pair_arrays(
    records_keys: Sequence[Sequence[str]], *, max_block: int, limit: int
) -> tuple[IntArray, IntArray]:
    """``candidate_pairs`` of records ``0 .. n-1`` with keys ``records_keys[i]``, as two arrays
    (lower record, higher record) in the order ``candidate_pairs`` yields them."""
    n = len(records_keys)
    low, high = _pairs_within_blocks(*_incidences(records_keys), max_block)
    pair_codes, shared = np.unique(low * n + high, return_counts=True)
    low, high = pair_codes // max(n, 1), pair_codes % max(n, 1)
    count = len(pair_codes)
    # Every record's list: its partners, most shared keys first, then the lower id.
    source = np.concatenate([low, high])
    partner = np.concatenate([high, low])
    most = int(shared.max()) if count else 0
    rank_key = (source * (most + 1) + (most - np.concatenate([shared, shared]))) * n + partner
    order = np.argsort(rank_key, kind="stable")
    sorted_source = source[order]
    starts = np.searchsorted(sorted_source, np.arange(n))
    rank = np.empty(2 * count, dtype=np.int64)
    rank[order] = np.arange(2 * count) - starts[sorted_source]
    rank_in_low, rank_in_high = rank[:count], rank[count:]
    listed_by_low = rank_in_low < limit
    low_cut = np.bincount(low, minlength=n)[low] + np.bincount(high, minlength=n)[low] >= limit
    emitted = listed_by_low | ((rank_in_high < limit) & low_cut)
    emitter = np.where(listed_by_low, low, high)[emitted]
    position = np.where(listed_by_low, rank_in_low, rank_in_high)[emitted]
    emission = np.lexsort((position, emitter))
    return low[emitted][emission], high[emitted][emission]
