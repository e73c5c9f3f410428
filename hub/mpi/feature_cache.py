"""A bounded process cache of stored match features, opened (decrypted) once.

Every decision scores its candidates' match features, which are sealed at rest (they hold names,
resident IDs and phones); opening one (AEAD, JSON, the dataclass) costs as much as comparing it.
This cache keeps the opened features of the ``HUB_MPI_FEATURE_CACHE_SIZE`` most recently used
stored values in each process (an LRU from cachetools; 0 turns it off).

No process tells another what it wrote, and none needs to: an entry is keyed by the source row's
id *and* a digest of the sealed value the query just read, with the key that opens it.

- Every write of a source's features seals them anew, with a fresh nonce: a record changed by
  another API replica or worker reads as another value and simply misses.
- Merges, splits, unlinks and review resolutions move a source to another person without
  changing its features; the person, its status and enterprise id always come from the query,
  never from here. A deleted source is not read at all.
- Key rotation reseals (another value: a miss). A value whose key the cipher no longer holds, or
  holds with other material, is never served from here: it is opened, and fails, as uncached.

Nothing here is logged or exported: the entries are personal data in this process's memory
only, as the decisions that read them already hold them.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from functools import lru_cache

import orjson
from cachetools import LRUCache

from hub.mpi.matching.features import MatchFeatures
from hub.security.fields import FieldCipher, key_id_of
from hub.settings import get_settings

_Key = tuple[int, bytes, bytes]  # source row id, digest of the sealed value, key fingerprint


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    size: int
    maxsize: int


class FeatureCache:
    """Opened features by (source id, sealed value, key); thread-safe, bounded."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: LRUCache[_Key, MatchFeatures] = LRUCache(maxsize=max(maxsize, 1))
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def open(self, cipher: FieldCipher, source_id: int, sealed: str) -> MatchFeatures:
        """The features ``sealed`` holds, from the cache when this very value was opened before."""
        key = self._key(cipher, source_id, sealed)
        if key is None:
            return open_features(cipher, sealed)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self.hits += 1
                return found
            self.misses += 1
        features = open_features(cipher, sealed)  # outside the lock: other threads go on
        with self._lock:
            self._entries[key] = features
        return features

    def remember(
        self, cipher: FieldCipher, source_id: int, sealed: str, features: MatchFeatures
    ) -> None:
        """Enter features just sealed as ``sealed`` (a new source: no decrypt needed later)."""
        key = self._key(cipher, source_id, sealed)
        if key is not None:
            with self._lock:
                self._entries[key] = features

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self.hits, self.misses, len(self._entries), self.maxsize)

    def _key(self, cipher: FieldCipher, source_id: int, sealed: str) -> _Key | None:
        """None when the value is not to be cached: the cache is off, or no key opens it."""
        if self.maxsize <= 0:
            return None
        key_id = key_id_of(sealed)
        material = cipher.keys.get(key_id) if key_id is not None else b""
        if material is None:
            return None
        digest = hashlib.blake2b(sealed.encode(), digest_size=16).digest()
        return (source_id, digest, _fingerprint(material))

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # a lock held by another thread at fork stays held


def open_features(cipher: FieldCipher, sealed: str) -> MatchFeatures:
    """Open sealed features, uncached (whole-index reads: training, relink)."""
    return MatchFeatures.from_json_dict(orjson.loads(cipher.decrypt(sealed)))


def open_source_features(cipher: FieldCipher, source_id: int, sealed: str) -> MatchFeatures:
    """The features of stored source ``source_id``, as sealed in the row just read."""
    return process_cache().open(cipher, source_id, sealed)


def remember_source_features(
    cipher: FieldCipher, source_id: int, sealed: str, features: MatchFeatures
) -> None:
    process_cache().remember(cipher, source_id, sealed, features)


def process_cache() -> FeatureCache:
    """This process's cache, sized by ``HUB_MPI_FEATURE_CACHE_SIZE``."""
    return _cache_of_size(get_settings().mpi_feature_cache_size)


@lru_cache(maxsize=1)
def _cache_of_size(maxsize: int) -> FeatureCache:
    cache = FeatureCache(maxsize)
    os.register_at_fork(after_in_child=cache._after_fork)
    return cache


@lru_cache(maxsize=64)
def _fingerprint(material: bytes) -> bytes:
    """Tells keys apart without holding them: a key id given other material misses."""
    return hashlib.blake2b(material, digest_size=16, person=b"mpi-feature-key").digest()
