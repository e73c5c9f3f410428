"""Person names for the master patient index: keys precomputed once per record.

``name_keys`` turns one written name into a :class:`NameKeys` once per record;
:mod:`hub.mpi.matching.name_agreement` grades two keys for the comparison vector.

Parsing rules:

* NFKC first (full-width letters and spaces), then traditional -> simplified for the characters
  common in names (:data:`hub.mpi.matching.names_data.TRAD_TO_SIMP`, not a full converter).
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
  The phonetic key is a hand-written NYSIIS variant: see :mod:`hub.mpi.matching.names_data`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, NamedTuple

from pypinyin import Style, lazy_pinyin

from hub.mpi.matching.names_data import (
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
    "NameKeys", "Script", "blocking_keys", "family_key", "name_keys", "phonetic_key",
    "split_pinyin",
]  # fmt: skip

Script = Literal["hanzi", "latin", "mixed", "empty"]


_HAN_RANGES = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_LETTER = rf"[^\W\d_{_HAN_RANGES}]"
_UNIT = re.compile(rf"(?P<han>[{_HAN_RANGES}]+)|(?P<lat>{_LETTER}+(?:['’‘`\-]+{_LETTER}+)*)")
_OTHER_DOTS = re.compile("[" + re.escape(NAME_DOTS.replace(".", "")) + "]")
_DOT_SPLIT = re.compile("[" + re.escape(NAME_DOTS) + "]")
_LATIN_DOTTED = re.compile(rf"{_LETTER}{{2}}\.{_LETTER}{{2}}")


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


def family_key(keys: NameKeys) -> str:
    """Toneless pinyin of the family name (lowercase letters for western names)."""
    return keys.family_pinyin


@lru_cache(maxsize=65_536)  # per distinct name: a batch asks for the same names again
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
