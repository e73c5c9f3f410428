"""A full name as written, cut into family and given names where the patient index cuts it.

The bulk loader stores a CSV ``name`` ("李琳", "欧阳娜娜", "ZHANG Wei", "买买提·艾力") as a FHIR
HumanName with ``family`` and ``given`` besides ``text``, so that ``family=`` and ``given=``
searches find it like a name sent in parts. Where to cut is the index's decision
(:func:`hub.mpi.matching.names.name_keys`: compound surnames, romanised and western order, dotted
minority names); this module only finds the written substrings the index reads as the family and
given names, so the stored parts keep the writing of the file (張偉 stays traditional, Müller
keeps its umlaut) and read back as the same name keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import NamedTuple

from hub.mpi.matching.names import NameKeys, name_keys
from hub.mpi.matching.names_data import NAME_DOTS

# What may stand between or around the parts of a written name: spaces, commas, name dots.
_SEPARATORS = " \t,，" + NAME_DOTS
_GIVEN_PARTS = re.compile("[" + re.escape(_SEPARATORS) + "]+")


class WrittenName(NamedTuple):
    family: str
    given: tuple[str, ...]


def _reading(keys: NameKeys) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """What must agree for a cut to be the index's: the family name and both syllable runs."""
    return keys.family, keys.family_syllables, keys.given_syllables


def _cuts(text: str) -> Iterator[WrittenName]:
    """Every way to read ``text`` as family + given, one-part and family-first cuts first."""
    yield WrittenName(text, ())
    for at in range(1, len(text)):
        head, tail = text[:at].strip(_SEPARATORS), text[at:].strip(_SEPARATORS)
        if head and tail:
            yield WrittenName(head, _given_parts(tail))
            yield WrittenName(tail, _given_parts(head))


def _given_parts(text: str) -> tuple[str, ...]:
    return tuple(p for p in _GIVEN_PARTS.split(text) if p)


@lru_cache(maxsize=65536)
def split_written_name(text: str) -> WrittenName | None:
    """``text`` as (family, given names), both as written; None when the index finds no family
    name in it (nothing but digits or punctuation) or no written cut reads as the index's."""
    written = text.strip()
    wanted = name_keys(written)
    if not wanted.family:
        return None
    # Try first the cuts whose family name is as long as the index's (its normalising keeps the
    # length of most names): usually the first try holds, and each try costs a name_keys call.
    likely = sorted(_cuts(written), key=lambda cut: len(cut.family) != len(wanted.family))
    for cut in likely:
        keys = name_keys(family=cut.family, given=" ".join(cut.given) or None)
        if _reading(keys) == _reading(wanted):
            return cut
    return None
