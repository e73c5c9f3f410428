"""Blocking: which records are worth comparing with a given one.

Records carry a few *blocking keys* (opaque strings such as ``"dob:19300213"`` or
``"sn+pc:bruhn|4510"``); two records are candidates when they share at least one key (OR
blocking). :class:`BlockingIndex` is an in-memory inverted index key -> record ids
(``array('I')``, four bytes per entry). A key whose block holds more than ``max_block`` records
(a surname alone, a common birth date in a big region) is never used: it would flood the scorer
and says little. Once a block outgrows the bound its ids are dropped and only a count is kept
(memory, and removals stay cheap); the key then stays unusable even if removals bring it back
under the bound — changing ``max_block`` means rebuilding the index. Skips are counted in
:attr:`BlockingIndex.stats`, never logged with the key (keys are personal data). Candidates are
ranked by the number of keys they share with the query and cut at ``limit``.

:func:`candidate_pairs` turns an index into the pairs of a batch linkage or of training, and
:func:`blocking_recall` / :func:`pairs_from_clusters` measure how many true pairs blocking finds.
"""

from __future__ import annotations

from array import array
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations


@dataclass
class BlockingStats:
    lookups: int = 0  # calls of candidates()
    keys_used: int = 0  # keys whose block was scanned
    keys_skipped: int = 0  # keys whose block was larger than max_block
    truncated: int = 0  # lookups whose candidates were cut at the limit


class BlockingIndex:
    """Inverted index blocking key -> record ids (non-negative ints below 2**32)."""

    def __init__(self, *, max_block: int = 5_000) -> None:
        if max_block < 1:
            raise ValueError("max_block must be positive")
        self.max_block = max_block
        self.stats = BlockingStats()
        self._blocks: dict[str, array[int]] = {}  # usable keys: at most max_block ids each
        self._oversized: dict[str, int] = {}  # keys that outgrew max_block: a count, no ids
        self._keys: dict[int, tuple[str, ...]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._keys

    def add(self, record_id: int, keys: Iterable[str]) -> None:
        """Index a record under its keys (replacing the keys it had, if already indexed)."""
        if record_id in self._keys:
            self.remove(record_id)
        unique = tuple(dict.fromkeys(filter(None, keys)))
        self._keys[record_id] = unique
        blocks, oversized = self._blocks, self._oversized
        for key in unique:
            block = blocks.get(key)
            if block is not None:
                block.append(record_id)
                if len(block) > self.max_block:  # too common to block on, for good
                    del blocks[key]
                    oversized[key] = len(block)
            elif key in oversized:
                oversized[key] += 1
            else:
                blocks[key] = array("I", (record_id,))

    def remove(self, record_id: int) -> None:
        """Forget a record; unknown ids are ignored."""
        keys = self._keys.pop(record_id, ())
        blocks, oversized = self._blocks, self._oversized
        for key in keys:
            block = blocks.get(key)
            if block is not None:
                block.remove(record_id)
                if not block:
                    del blocks[key]
            elif oversized[key] > 1:
                oversized[key] -= 1
            else:
                del oversized[key]

    def keys_of(self, record_id: int) -> tuple[str, ...]:
        return self._keys.get(record_id, ())

    def block_size(self, key: str) -> int:
        block = self._blocks.get(key)
        return len(block) if block is not None else self._oversized.get(key, 0)

    def oversized_blocks(self) -> list[tuple[str, int]]:
        """Keys too common to block on, largest first (for an operator, not for logs)."""
        return sorted(self._oversized.items(), key=lambda kb: (-kb[1], kb[0]))

    def candidates(
        self, keys: Iterable[str], *, limit: int = 500, exclude: int | None = None
    ) -> list[int]:
        """Ids sharing at least one usable key, most shared keys first (then lowest id)."""
        stats = self.stats
        stats.lookups += 1
        blocks = []
        for key in dict.fromkeys(keys):
            block = self._blocks.get(key)
            if block is not None:
                blocks.append(block)
            elif key in self._oversized:
                stats.keys_skipped += 1
        stats.keys_used += len(blocks)
        if len(blocks) == 1:  # common case: no ranking needed
            ids = sorted(blocks[0])  # a record appears at most once per block
            if exclude is not None and exclude in ids:
                ids.remove(exclude)
            if len(ids) > limit:
                stats.truncated += 1
            return ids[:limit]
        shared: Counter[int] = Counter()
        for block in blocks:
            shared.update(block)
        if exclude is not None:
            shared.pop(exclude, None)
        if len(shared) > limit:
            stats.truncated += 1
        ranked = sorted(shared.items(), key=lambda item: (-item[1], item[0]))
        return [record_id for record_id, _ in ranked[:limit]]


def candidate_pairs(
    index: BlockingIndex, records_keys: Sequence[Sequence[str]], *, limit: int = 500
) -> Iterator[tuple[int, int]]:
    """Every candidate pair ``(i, j)``, ``i < j``, once, for records ``0 .. n-1`` indexed with
    ``records_keys[i]``.

    Sharing a usable key is symmetric, so a pair is emitted by its lower id; only when that
    record's list was cut at ``limit`` is the higher id's lookup allowed to emit it (the few
    truncated lists are remembered for that check).
    """
    truncated: dict[int, set[int]] = {}
    for i, keys in enumerate(records_keys):
        found = index.candidates(keys, limit=limit, exclude=i)
        for j in found:
            if j > i:
                yield i, j
            elif j in truncated and i not in truncated[j]:
                yield j, i
        if len(found) >= limit:
            truncated[i] = set(found)


def blocking_recall(
    true_pairs: Iterable[tuple[int, int]], candidate_pairs: Iterable[tuple[int, int]]
) -> float:
    """Share of the true pairs that blocking proposed (pairs are unordered; 1.0 if none)."""
    wanted = {(min(a, b), max(a, b)) for a, b in true_pairs}
    if not wanted:
        return 1.0
    found = 0
    for a, b in candidate_pairs:
        pair = (min(a, b), max(a, b))
        if pair in wanted:
            wanted.discard(pair)
            found += 1
    return found / (found + len(wanted))


def pairs_from_clusters(cluster_ids: Sequence[Hashable]) -> set[tuple[int, int]]:
    """All pairs ``(i, j)``, ``i < j``, of positions that carry the same cluster id."""
    members: defaultdict[Hashable, list[int]] = defaultdict(list)
    for position, cluster in enumerate(cluster_ids):
        members[cluster].append(position)
    return {pair for group in members.values() for pair in combinations(group, 2)}
