"""The patient index's process cache of opened features (hub.mpi.feature_cache): keyed by the
source *and* the sealed value it read, bounded, and never serving a value its cipher cannot open.
The decisions against a database changed by another session: tests/integration/
test_mpi_feature_cache.py."""

from __future__ import annotations

import os
from datetime import date

import pytest
from cryptography.exceptions import InvalidTag

from hub.mpi import store
from hub.mpi.feature_cache import CacheStats, FeatureCache, open_features, process_cache
from hub.mpi.matching.features import MatchFeatures
from hub.security.fields import FieldCipher, FieldKeyError
from hub.settings import get_settings

FEATURES = MatchFeatures(family="李", given="琳", full_name="李琳", birth_date=date(1986, 5, 12),
                         sex="female", phones=("13907170001",))  # fmt: skip
OTHER = MatchFeatures(family="王", given="芳", full_name="王芳", birth_date=date(1990, 1, 1))


def _cipher(**keys: bytes) -> FieldCipher:
    return FieldCipher(dict(keys), next(iter(keys)), b"b" * 32)


class CountingCipher(FieldCipher):
    """Counts decrypts: what the cache exists to save."""

    decrypts = 0

    def decrypt(self, token: str) -> str:
        type(self).decrypts += 1
        return super().decrypt(token)


def test_the_same_sealed_value_is_opened_once() -> None:
    CountingCipher.decrypts = 0
    cipher = CountingCipher({"k1": os.urandom(32)}, "k1", b"b" * 32)
    sealed = store.seal_features(cipher, FEATURES)
    cache = FeatureCache(10)
    assert cache.open(cipher, 7, sealed) == FEATURES
    assert cache.open(cipher, 7, sealed) == FEATURES
    assert CountingCipher.decrypts == 1
    assert (cache.stats().hits, cache.stats().misses) == (1, 1)


def test_a_resealed_value_misses_even_with_the_same_content() -> None:
    """Every write seals anew: a record written by another process reads as another value."""
    cipher = _cipher(k1=os.urandom(32))
    cache = FeatureCache(10)
    cache.open(cipher, 7, store.seal_features(cipher, FEATURES))
    changed = store.seal_features(cipher, OTHER)
    assert cache.open(cipher, 7, changed) == OTHER
    cache.open(cipher, 7, store.seal_features(cipher, OTHER))
    assert (cache.stats().hits, cache.stats().misses) == (0, 3)


def test_entries_are_per_source_row() -> None:
    cipher = _cipher(k1=os.urandom(32))
    sealed = store.seal_features(cipher, FEATURES)
    cache = FeatureCache(10)
    cache.open(cipher, 7, sealed)
    cache.open(cipher, 8, sealed)
    assert cache.stats().misses == 2


def test_the_cache_is_bounded_and_evicts_the_least_recently_used() -> None:
    cipher = _cipher(k1=os.urandom(32))
    sealed = {i: store.seal_features(cipher, FEATURES) for i in range(5)}
    cache = FeatureCache(3)
    for i in (0, 1, 2):
        cache.open(cipher, i, sealed[i])
    cache.open(cipher, 0, sealed[0])  # 0 used again: 1 is now the least recently used
    cache.open(cipher, 3, sealed[3])
    assert cache.stats().size == 3
    before = cache.stats()
    cache.open(cipher, 0, sealed[0])
    cache.open(cipher, 1, sealed[1])
    after = cache.stats()
    assert (after.hits - before.hits, after.misses - before.misses) == (1, 1)


def test_size_zero_turns_the_cache_off() -> None:
    cipher = _cipher(k1=os.urandom(32))
    sealed = store.seal_features(cipher, FEATURES)
    cache = FeatureCache(0)
    assert cache.open(cipher, 1, sealed) == cache.open(cipher, 1, sealed) == FEATURES
    cache.remember(cipher, 2, sealed, FEATURES)
    assert cache.stats() == CacheStats(hits=0, misses=0, size=0, maxsize=0)


def test_a_retired_key_is_not_served_from_the_cache() -> None:
    """The value was opened (and cached) while its key was configured; a cipher without that key
    fails to open it exactly as it would uncached."""
    old, new = os.urandom(32), os.urandom(32)
    both = FieldCipher({"k1": old, "k2": new}, "k1", b"b" * 32)
    sealed = store.seal_features(both, FEATURES)
    cache = FeatureCache(10)
    assert cache.open(both, 7, sealed) == FEATURES
    with pytest.raises(FieldKeyError):
        cache.open(FieldCipher({"k2": new}, "k2", b"b" * 32), 7, sealed)
    with pytest.raises(InvalidTag):  # the same key id bound to other material
        cache.open(_cipher(k1=os.urandom(32)), 7, sealed)


def test_remembered_features_are_served_without_a_decrypt() -> None:
    CountingCipher.decrypts = 0
    cipher = CountingCipher({"k1": os.urandom(32)}, "k1", b"b" * 32)
    sealed = store.seal_features(cipher, FEATURES)
    cache = FeatureCache(10)
    cache.remember(cipher, 3, sealed, FEATURES)
    assert cache.open(cipher, 3, sealed) == FEATURES
    assert CountingCipher.decrypts == 0


def test_the_process_cache_takes_its_size_from_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_MPI_FEATURE_CACHE_SIZE", "12")
    get_settings.cache_clear()
    try:
        assert process_cache().maxsize == 12
        assert process_cache() is process_cache()
    finally:
        monkeypatch.delenv("HUB_MPI_FEATURE_CACHE_SIZE")
        get_settings.cache_clear()
    assert process_cache().maxsize == 100_000


def test_every_field_survives_sealing_and_opening() -> None:
    full = MatchFeatures(
        family="买买提", given="艾力", full_name="买买提·艾力", birth_date=date(1979, 2, 28),
        sex="male", resident_id="420502198605121222", resident_id_raw="42050219860512122X",
        insurance_number="YB-1", local_ids=(("urn:x", "7"), ("urn:y", "\"8\"")),
        phones=("13907170001", "07176222222"), district="420502", township="夜明珠街道",
        village="桂园小区", line="1栋2单元2304\\n", postal_code="443000", flags=("birth_date",),
    )  # fmt: skip
    cipher = _cipher(k1=os.urandom(32))
    assert open_features(cipher, store.seal_features(cipher, full)) == full
