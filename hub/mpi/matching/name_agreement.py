"""Graded agreement of two person names, cheap enough for every candidate pair.

``compare_names`` (and ``compare_family`` / ``compare_given``) grade two
:class:`~hub.mpi.matching.names.NameKeys` into a :class:`NameAgreement` level of a
Fellegi-Sunter comparison vector: exact, homophone, swap, similar pinyin or different.
"""

from __future__ import annotations

from enum import IntEnum

from rapidfuzz.distance import JaroWinkler

from hub.mpi.matching.names import NameKeys, name_keys

__all__ = [
    "SIMILARITY_THRESHOLD", "NameAgreement", "compare_family", "compare_given", "compare_names",
]  # fmt: skip

SIMILARITY_THRESHOLD = 0.88  # Jaro-Winkler on pinyin, for NameAgreement.SIMILAR
_JW = JaroWinkler.normalized_similarity


class NameAgreement(IntEnum):
    """Agreement level of two names; higher is stronger. ``MISSING`` is neutral in F-S."""

    MISSING = -1  # either side has no name
    DIFFERENT = 0
    SIMILAR = 1  # Jaro-Winkler >= 0.88 on pinyin, same initials + a shared syllable, or phonetic
    FAMILY_SWAP_OR_PARTIAL = 2  # family/given swapped, or one given syllable (or part) missing
    HOMOPHONE = 3  # same full pinyin, different writing (张伟/章伟, ZHANG WEI/张伟)
    EXACT = 4  # same simplified Hanzi, or same normalised Latin


# --- comparison ------------------------------------------------------------------------------


def _one_missing(x: tuple[str, ...], y: tuple[str, ...], least: int = 1) -> bool:
    """True if the shorter sequence (at least ``least`` long) is the longer less one item."""
    if len(x) == len(y) + 1:
        longer, shorter = x, y
    elif len(y) == len(x) + 1:
        longer, shorter = y, x
    else:
        return False
    if len(shorter) < least:
        return False
    i = 0
    while i < len(shorter) and shorter[i] == longer[i]:
        i += 1
    return longer[i + 1 :] == shorter[i:]


def _initials_and_syllable(x: tuple[str, ...], y: tuple[str, ...]) -> bool:
    """Same initials (two or more syllables) and at least one syllable in common."""
    if len(x) != len(y) or len(x) < 2 or any(a[0] != b[0] for a, b in zip(x, y, strict=True)):
        return False
    return any(s in y for s in x)


def _similar_pinyin(x: str, y: str) -> bool:
    """Jaro-Winkler at the threshold, or equal once ü ('v') is written 'u' (吕 as LU)."""
    if _JW(x, y) >= SIMILARITY_THRESHOLD:
        return True
    return ("v" in x or "v" in y) and x.replace("v", "u") == y.replace("v", "u")


def compare_names(a: NameKeys, b: NameKeys) -> NameAgreement:
    """Grade the agreement of two whole names (see :class:`NameAgreement`)."""
    if not a.full_pinyin or not b.full_pinyin:
        return NameAgreement.MISSING
    if a.family == b.family and a.given == b.given:
        return NameAgreement.EXACT
    if a.full_pinyin == b.full_pinyin:
        return NameAgreement.HOMOPHONE
    if (
        (len(a.parts) > 1 and a.parts == b.parts)
        or (
            a.family_pinyin == b.family_pinyin
            and _one_missing(a.given_syllables, b.given_syllables)
        )
        or _one_missing(a.parts, b.parts, least=2)
    ):
        return NameAgreement.FAMILY_SWAP_OR_PARTIAL
    if (
        _similar_pinyin(a.full_pinyin, b.full_pinyin)
        or (
            a.family_phonetic != ""
            and a.family_phonetic == b.family_phonetic
            and a.given_phonetic == b.given_phonetic
        )
        or _initials_and_syllable(
            a.family_syllables + a.given_syllables, b.family_syllables + b.given_syllables
        )
    ):
        return NameAgreement.SIMILAR
    return NameAgreement.DIFFERENT


def _compare_part(
    texts: tuple[str, str],
    pinyins: tuple[str, str],
    others: tuple[str, str],
    syllables: tuple[tuple[str, ...], tuple[str, ...]],
    phonetics: tuple[str, str],
) -> NameAgreement:
    if not texts[0] or not texts[1]:
        return NameAgreement.MISSING
    if texts[0] == texts[1]:
        return NameAgreement.EXACT
    if pinyins[0] == pinyins[1]:
        return NameAgreement.HOMOPHONE
    if pinyins[0] == others[1] or pinyins[1] == others[0] or _one_missing(*syllables):
        return NameAgreement.FAMILY_SWAP_OR_PARTIAL
    if (
        _similar_pinyin(*pinyins)
        or (phonetics[0] != "" and phonetics[0] == phonetics[1])
        or _initials_and_syllable(*syllables)
    ):
        return NameAgreement.SIMILAR
    return NameAgreement.DIFFERENT


def compare_family(a: NameKeys, b: NameKeys) -> NameAgreement:
    """Grade the family names alone; a family name found in the other's given name is a swap."""
    return _compare_part(
        (a.family, b.family),
        (a.family_pinyin, b.family_pinyin),
        (a.given_pinyin, b.given_pinyin),
        (a.family_syllables, b.family_syllables),
        (a.family_phonetic, b.family_phonetic),
    )


def compare_given(a: NameKeys, b: NameKeys) -> NameAgreement:
    """Grade the given names alone; one missing syllable counts as partial agreement."""
    return _compare_part(
        (a.given, b.given),
        (a.given_pinyin, b.given_pinyin),
        (a.family_pinyin, b.family_pinyin),
        (a.given_syllables, b.given_syllables),
        (a.given_phonetic, b.given_phonetic),
    )


if __name__ == "__main__":  # rough timing: python -m hub.mpi.matching.name_agreement
    import timeit

    pairs = [("张伟", "章伟"), ("张伟", "李娜"), ("Wei Zhang", "张伟"), ("Jon Smith", "John Smyth")]
    keyed = [(name_keys(x), name_keys(y)) for x, y in pairs]
    loops = 20_000
    seconds = timeit.timeit(lambda: [compare_names(x, y) for x, y in keyed], number=loops)
    print(f"compare_names: {seconds / loops / len(keyed) * 1e6:.2f} µs per pair")
    seconds = timeit.timeit(lambda: [name_keys(x) for x, _ in pairs], number=2_000)
    print(f"name_keys: {seconds / 2_000 / len(pairs) * 1e6:.1f} µs per name")
