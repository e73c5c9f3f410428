"""Addresses for matching: Western (Latin-script) parts, and the flat of a Chinese address.

A Chinese address is read by :mod:`hub.mpi.matching.features` into district, township and village.
An address written without Hanzi ("24 balfour crescent, killara lodge, cranbourne vic") has no such
hierarchy to read; it is cut here into what a desk clerk's typing errors leave comparable:

* the **house number**: the leading number of the first part ("24", "12a", "3/15" -> "3/15");
* the **parts**: the comma-separated parts without the number (street, building or farm name,
  locality), casefolded, accents folded, apostrophes dropped, other punctuation a space;
* the **postcode** comes from its own field.

Each is graded on its own by :func:`compare_postcode`, :func:`compare_house_number` and
:func:`compare_parts`, so a typo in the suburb does not cost the street, and two parts written in
the other order still agree.

A Chinese urban address ends in a flat of an estate: "阳光花园2栋1单元603", which desks also write
"阳光花园2-1-603" or "阳光花园2幢1单元603室". :func:`chinese_dwelling` reads it as the estate's
last characters with building, unit and room, so that two spellings of one flat agree even when
the community or street office was left out of one of them. Pure functions, cached per
distinct text; the values are personal data: never log them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA, JaroWinkler

PART_SIMILARITY = 0.88  # Jaro-Winkler at which two address parts agree

_HAN = re.compile("[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_PART_SPLIT = re.compile(r"[,;\n]+")
_APOSTROPHES = re.compile("['’‘`]")
_NOT_WORD = re.compile(r"[^\w/]+")
_NUMBER = re.compile(r"^(\d+[a-z]?(?:[/-]\d+[a-z]?)?)(?:\s+|$)")
_JW = JaroWinkler.normalized_similarity


@dataclass(frozen=True, slots=True)
class LatinAddress:
    number: str | None  # house number, as written ("12a")
    parts: tuple[str, ...]  # normalised parts without the number, in written order

    @property
    def locality(self) -> str | None:
        """The last part (suburb, town, with a state abbreviation if one was written)."""
        return self.parts[-1] if len(self.parts) > 1 else None


def _normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    letters = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", _APOSTROPHES.sub("", letters)).replace("_", " ").split())


@lru_cache(maxsize=65536)
def latin_address(text: str | None) -> LatinAddress | None:
    """The parts of an address written without Hanzi; None for a Chinese or empty address."""
    if not text or _HAN.search(text):
        return None
    parts = [p for p in (_normalise(p) for p in _PART_SPLIT.split(text)) if p]
    if not parts:
        return None
    number = None
    found = _NUMBER.match(parts[0])
    if found:
        number = found[1]
        parts[0] = parts[0][found.end() :]
    parts = [p for p in parts if p]
    if not parts and number is None:
        return None
    return LatinAddress(number, tuple(parts))


def compare_postcode(a: str | None, b: str | None) -> int:
    """-1 missing, 0 different, 1 one character substituted or two adjacent swapped, 2 same."""
    if not a or not b:
        return -1
    x, y = a.replace(" ", "").upper(), b.replace(" ", "").upper()
    if x == y:
        return 2
    return 1 if len(x) == len(y) and OSA.distance(x, y) == 1 else 0


def compare_house_number(a: LatinAddress | None, b: LatinAddress | None) -> int:
    """-1 missing, 0 different, 1 same house number."""
    if a is None or b is None or not a.number or not b.number:
        return -1
    return int(a.number == b.number)


def compare_parts(a: LatinAddress | None, b: LatinAddress | None) -> int:
    """How many parts agree (Jaro-Winkler >= PART_SIMILARITY, in any order), graded
    -1 missing, 0 none, 1 one part, 2 two or more parts, 3 every part of both sides."""
    if a is None or b is None or not a.parts or not b.parts:
        return -1
    left = list(b.parts)
    matched = 0
    for part in a.parts:
        best, at = max(((_JW(part, other), k) for k, other in enumerate(left)), default=(0, -1))
        if best >= PART_SIMILARITY:
            matched += 1
            del left[at]
    if matched == len(a.parts) == len(b.parts):
        return 3
    return min(matched, 2)


# building (栋/幢/号楼/座 or "-"), unit (单元 or "-"), room (室/号 optional), at the end
_FLAT = re.compile(r"(\d+)\s*(?:栋|幢|号楼|座|-)\s*(\d+)\s*(?:单元|-)\s*(\d+)\s*(?:室|号)?\s*$")
_ESTATE_CHARS = re.compile(r"[^\u4e00-\u9fff0-9]")
# The estate's or street's last Hanzi, with a street number after them: "光花园", "陵春天",
# "四路120号". Three: an estate name is two to four characters, and whatever a desk wrote
# before it (community, street office) must not count.
_ESTATE = re.compile(r"([\u4e00-\u9fff]{3})(\d+号)?$")


@lru_cache(maxsize=65536)
def chinese_dwelling(text: str | None) -> tuple[str, str, str, str] | None:
    """(estate, building, unit, room) of a Chinese address ending in a flat, else None. The
    estate is the three Hanzi before the building (with a street number after them), so "平湖
    社区夷陵春天28栋2单元2301" and "东湖夷陵春天28-2-2301" agree; a flat written without its
    estate ("7-2-704" alone) gives None rather than a guess."""
    if not text or not is_chinese_address(text):
        return None
    text = unicodedata.normalize("NFKC", text).replace("—", "-").replace("－", "-")
    found = _FLAT.search(text)
    if found is None:
        return None
    estate = _ESTATE.search(_ESTATE_CHARS.sub("", text[: found.start()]))
    if estate is None:
        return None
    building, unit, room = (str(int(n)) for n in found.groups())
    return (estate[0], building, unit, room)


def is_chinese_address(text: str | None) -> bool:
    return bool(text) and _HAN.search(text or "") is not None
