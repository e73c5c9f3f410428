"""Person names for the master patient index: precomputed keys and graded agreement.

``name_keys`` turns one written name into a :class:`NameKeys` once per record; ``compare_names``
(and ``compare_family`` / ``compare_given``) grade two keys into a :class:`NameAgreement` level
for a Fellegi-Sunter comparison vector, cheaply enough to run on every candidate pair.

Parsing rules:

* NFKC first (full-width letters and spaces), then traditional -> simplified for the characters
  common in names (:data:`hub.mpi.names_data.TRAD_TO_SIMP`, not a full converter).
* Hanzi without a separator: the family name is a compound surname (欧阳, 司马, 诸葛 ...) when the
  name starts with one and has at least three characters, else the first character. A space
  separates family from given name when present ("欧阳 娜娜").
* Family names are read with surname readings (单 shan, 曾 zeng, 解 xie, 仇 qiu, 区 ou, 朴 piao
  ...); given names with pypinyin. Pinyin is toneless and lowercase, ü is written ``v`` as
  pypinyin does (吕 ``lv``); romanised ``LYU``/``LÜ``/``LV`` all become ``lv``.
* A middle dot (· • ・ ‧ ． or '.') splits a transliterated minority name into its parts as
  written, given name first (买买提·艾力: given 买买提, family 艾力). ``full_pinyin`` keeps the
  written order; ``parts`` is the sorted set of parts, so a reversed order is a swap.
* Latin names that split entirely into pinyin syllables are romanised Chinese: family name
  first ("ZHANG WEI", "ZHANGWEI") unless a comma says otherwise ("zhang, wei") or exactly one
  word is in capitals among mixed-case words ("Wei ZHANG"). Their pinyin keys are the
  romanisation itself, so they compare with Hanzi. "Wei Zhang" is read as family Wei; the
  comparison then sees a swap.
* Other Latin names are western: family name last unless a comma or the capitals rule says
  otherwise; uppercase, accents folded (Müller -> MULLER), and a phonetic key per part.
  The phonetic key is a hand-written NYSIIS variant: see :mod:`hub.mpi.names_data`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal, NamedTuple

from pypinyin import Style, lazy_pinyin
from rapidfuzz.distance import JaroWinkler

from hub.mpi.names_data import (
    COMPOUND_SURNAMES,
    NAME_DOTS,
    ROMANISED_COMPOUNDS,
    SURNAME_READINGS,
    TRAD_TO_SIMP,
    fold_latin,
    phonetic_key,
    split_pinyin,
)

__all__ = [
    "SIMILARITY_THRESHOLD", "NameAgreement", "NameKeys", "Script", "blocking_keys",
    "compare_family", "compare_given", "compare_names", "family_key", "name_keys",
    "phonetic_key", "split_pinyin",
]  # fmt: skip

Script = Literal["hanzi", "latin", "mixed", "empty"]

SIMILARITY_THRESHOLD = 0.88  # Jaro-Winkler on pinyin, for NameAgreement.SIMILAR

_HAN_RANGES = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_LETTER = rf"[^\W\d_{_HAN_RANGES}]"
_UNIT = re.compile(rf"(?P<han>[{_HAN_RANGES}]+)|(?P<lat>{_LETTER}+(?:['’‘`\-]+{_LETTER}+)*)")
_OTHER_DOTS = re.compile("[" + re.escape(NAME_DOTS.replace(".", "")) + "]")
_DOT_SPLIT = re.compile("[" + re.escape(NAME_DOTS) + "]")
_LATIN_DOTTED = re.compile(rf"{_LETTER}{{2}}\.{_LETTER}{{2}}")
_JW = JaroWinkler.normalized_similarity


class NameAgreement(IntEnum):
    """Agreement level of two names; higher is stronger. ``MISSING`` is neutral in F-S."""

    MISSING = -1  # either side has no name
    DIFFERENT = 0
    SIMILAR = 1  # Jaro-Winkler >= 0.88 on pinyin, same initials + a shared syllable, or phonetic
    FAMILY_SWAP_OR_PARTIAL = 2  # family/given swapped, or one given syllable (or part) missing
    HOMOPHONE = 3  # same full pinyin, different writing (张伟/章伟, ZHANG WEI/张伟)
    EXACT = 4  # same simplified Hanzi, or same normalised Latin


@dataclass(frozen=True, slots=True)
class NameKeys:
    """Comparable forms of one person name, computed once per record by :func:`name_keys`.

    ``family``/``given`` are simplified Hanzi or normalised uppercase Latin; the ``*_pinyin``
    fields are toneless lowercase syllables joined without spaces (romanised and western names:
    the lowercase letters). ``parts`` is the sorted pinyin of the name parts (family and given,
    or each dotted part) for order-free comparison. Phonetic keys exist for western Latin
    names only. The fields hold personal data: do not log them.
    """

    raw: str
    script: Script
    family: str
    given: str
    family_pinyin: str
    given_pinyin: str
    full_pinyin: str
    initials: str
    family_phonetic: str
    given_phonetic: str
    family_syllables: tuple[str, ...]
    given_syllables: tuple[str, ...]
    parts: tuple[str, ...]

    @property
    def phonetic(self) -> str:
        """Phonetic key of the whole name (family first), empty unless a western Latin name."""
        return f"{self.family_phonetic} {self.given_phonetic}".strip()


class _Chunk(NamedTuple):
    text: str
    syllables: tuple[str, ...]
    phonetic: str = ""


_NO_CHUNK = _Chunk("", ())


# --- parsing ---------------------------------------------------------------------------------


def _clean(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(TRAD_TO_SIMP).strip()


def _pinyin(hanzi: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(hanzi, style=Style.NORMAL))


def _hanzi_family(text: str) -> _Chunk:
    head = text[:2] if text[:2] in COMPOUND_SURNAMES else text[:1]
    reading = COMPOUND_SURNAMES.get(head) or SURNAME_READINGS.get(head)
    syllables = tuple(reading.split()) if reading else _pinyin(head)
    return _Chunk(text, syllables + _pinyin(text[len(head) :]))


def _latin_chunk(words: list[str], pinyin: bool) -> _Chunk:
    if not words:
        return _NO_CHUNK
    if pinyin:
        syllables = tuple(s for w in words for s in split_pinyin(w) or ())
        return _Chunk("".join(syllables).upper(), syllables)
    folded = [f for f in map(fold_latin, words) if f]
    phonetic = " ".join(phonetic_key(f) for f in folded)
    return _Chunk(" ".join(folded), tuple(f.lower() for f in folded), phonetic)


def _is_pinyin(words: list[str]) -> bool:
    return all((s := split_pinyin(w)) is not None and len(s) <= 4 for w in words)


def _join(chunks: list[_Chunk], sep: str = "") -> _Chunk:
    chunks = [c for c in chunks if c.text]
    western = any(c.phonetic for c in chunks)
    return _Chunk(
        (" " if western and not sep else sep).join(c.text for c in chunks),
        tuple(s for c in chunks for s in c.syllables),
        " ".join(c.phonetic for c in chunks if c.phonetic),
    )


def _chunk(text: str, *, family: bool) -> _Chunk:
    """Keys of one name part in any script (Hanzi runs and Latin words)."""
    out: list[_Chunk] = []
    words: list[str] = []
    for i, match in enumerate(_UNIT.finditer(text)):
        if match.lastgroup == "lat":
            words.append(match.group())
            continue
        out.append(_latin_chunk(words, _is_pinyin(words)))
        words = []
        run = match.group()
        out.append(_hanzi_family(run) if family and i == 0 else _Chunk(run, _pinyin(run)))
    out.append(_latin_chunk(words, _is_pinyin(words)))
    return _join(out)


def _script(text: str) -> Script:
    kinds = {m.lastgroup for m in _UNIT.finditer(text)}
    if not kinds:
        return "empty"
    if len(kinds) > 1:
        return "mixed"
    return "hanzi" if "han" in kinds else "latin"


def _assemble(
    raw: str,
    script: Script,
    family: _Chunk,
    given: _Chunk,
    written: list[_Chunk] | None = None,
) -> NameKeys:
    family_pinyin = "".join(family.syllables)
    given_pinyin = "".join(given.syllables)
    order = written or [family, given]
    ordered = [s for c in order for s in c.syllables]
    parts = sorted(p for p in ("".join(c.syllables) for c in order) if p)
    if not ordered:
        script = "empty"
    return NameKeys(
        raw=raw,
        script=script,
        family=family.text,
        given=given.text,
        family_pinyin=family_pinyin,
        given_pinyin=given_pinyin,
        full_pinyin="".join(ordered),
        initials="".join(s[0] for s in ordered),
        family_phonetic=family.phonetic,
        given_phonetic=given.phonetic,
        family_syllables=family.syllables,
        given_syllables=given.syllables,
        parts=tuple(parts),
    )


def _dotted_parts(text: str, script: Script) -> list[str]:
    latin_period = _LATIN_DOTTED.search(text) and not any(c.isspace() for c in text)
    if script == "latin" and not _OTHER_DOTS.search(text) and not latin_period:
        return []  # 'J. Smith': the period is an abbreviation, not a separator
    parts = [p for p in _DOT_SPLIT.split(text) if _UNIT.search(p)]
    return parts if len(parts) > 1 else []


def _from_text(raw: str) -> NameKeys:
    text = _clean(raw)
    script = _script(text)
    if script == "empty":
        return _assemble(raw, script, _NO_CHUNK, _NO_CHUNK)
    if parts := _dotted_parts(text, script):  # written given name first: family is the last
        chunks = [_chunk(p, family=False) for p in parts]
        return _assemble(raw, script, chunks[-1], _join(chunks[:-1], "·"), chunks)
    if script == "latin":
        return _latin_name(raw, text)
    first = _UNIT.search(text)
    assert first is not None  # script is not empty
    head = first.group()
    separated = _UNIT.search(text, first.end()) is not None and len(head) <= 2  # "欧阳 娜娜"
    if first.lastgroup == "han" and not separated:
        head = head[:2] if len(head) > 2 and head[:2] in COMPOUND_SURNAMES else head[:1]
    rest = text[first.start() + len(head) :]
    return _assemble(raw, script, _chunk(head, family=True), _chunk(rest, family=False))


def _latin_name(raw: str, text: str) -> NameKeys:
    family_text, comma, given_text = text.partition(",")
    words = [m.group() for m in _UNIT.finditer(text)]
    pinyin = _is_pinyin(words)
    if comma:
        family_words = [m.group() for m in _UNIT.finditer(family_text)]
        given_words = [m.group() for m in _UNIT.finditer(given_text)]
    elif len(words) == 1 and pinyin:  # joined: ZHANGWEI, OUYANGNANA
        syllables = split_pinyin(words[0]) or ()
        compound = len(syllables) > 2 and "".join(syllables[:2]) in ROMANISED_COMPOUNDS
        cut = 2 if compound else 1
        family = _Chunk("".join(syllables[:cut]).upper(), syllables[:cut])
        given = _Chunk("".join(syllables[cut:]).upper(), syllables[cut:])
        return _assemble(raw, "latin", family, given)
    else:
        capitals = [i for i, w in enumerate(words) if w.isupper() and len(w) > 1]
        if len(capitals) == 1 and len(words) > 1 and not all(w.isupper() for w in words):
            at = capitals[0]
        else:
            at = 0 if pinyin else len(words) - 1
        family_words, given_words = [words[at]], words[:at] + words[at + 1 :]
    return _assemble(
        raw, "latin", _latin_chunk(family_words, pinyin), _latin_chunk(given_words, pinyin)
    )


def name_keys(
    text: str | None = None, *, family: str | None = None, given: str | None = None
) -> NameKeys:
    """Keys of a full written name, or of a name given as family and given parts."""
    if text is not None:
        if family is not None or given is not None:
            raise ValueError("pass either a full name or family/given parts, not both")
        return _from_text(text)
    family_text, given_text = _clean(family or ""), _clean(given or "")
    raw = " ".join(p for p in (family, given) if p)
    script = _script(f"{family_text} {given_text}")
    return _assemble(
        raw, script, _chunk(family_text, family=True), _chunk(given_text, family=False)
    )


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


def family_key(keys: NameKeys) -> str:
    """Toneless pinyin of the family name (lowercase letters for western names)."""
    return keys.family_pinyin


def blocking_keys(keys: NameKeys) -> tuple[str, ...]:
    """Blocking keys, each tagged by kind so that kinds never collide.

    ``fp:`` full pinyin (catches homophones and romanisations), ``fi:`` family pinyin and given
    initials, ``ss:`` the sorted syllables (catches swaps), ``ph:`` the phonetic key.
    """
    if not keys.full_pinyin:
        return ()
    found = [f"fp:{keys.full_pinyin}"]
    if keys.family_pinyin and keys.given_syllables:
        given_initials = "".join(s[0] for s in keys.given_syllables)
        found.append(f"fi:{keys.family_pinyin}:{given_initials}")
    found.append("ss:" + ".".join(sorted(keys.family_syllables + keys.given_syllables)))
    if keys.phonetic:
        found.append(f"ph:{keys.phonetic}")
    return tuple(dict.fromkeys(found))


if __name__ == "__main__":  # rough timing: python -m hub.mpi.names
    import timeit

    pairs = [("张伟", "章伟"), ("张伟", "李娜"), ("Wei Zhang", "张伟"), ("Jon Smith", "John Smyth")]
    keyed = [(name_keys(x), name_keys(y)) for x, y in pairs]
    loops = 20_000
    seconds = timeit.timeit(lambda: [compare_names(x, y) for x, y in keyed], number=loops)
    print(f"compare_names: {seconds / loops / len(keyed) * 1e6:.2f} µs per pair")
    seconds = timeit.timeit(lambda: [name_keys(x) for x, _ in pairs], number=2_000)
    print(f"name_keys: {seconds / 2_000 / len(pairs) * 1e6:.1f} µs per name")
