"""The comparison vectors of many pairs at once, column-wise: the same levels as
:func:`hub.mpi.matching.compare.compare`, pair for pair.

Each comparison is graded over arrays of pairs (left record, right record) with numpy on the
codes of :mod:`hub.mpi.matching.record_columns`: equality of codes for "same value", the rules
applied in the scalar function's order with :func:`numpy.select`, string similarity with
rapidfuzz's ``process.cpdist`` (the same Jaro-Winkler, in double precision, as the scalar code).
The rules that read few pairs and much structure (a mistyped resident ID, other identifiers,
Latin addresses graded part by part) call the scalar functions of ``compare`` on those pairs
only. ``compare`` stays the reference: a property test holds the two to the same levels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.process import cpdist

from hub.mpi.matching.addresses import compare_house_number, compare_parts, compare_postcode
from hub.mpi.matching.compare import SPECS, _latin, _other_id, _resident_id
from hub.mpi.matching.features import MatchFeatures
from hub.mpi.matching.name_agreement import SIMILARITY_THRESHOLD
from hub.mpi.matching.record_columns import Codes, CodeTable, Flags, PartColumns, RecordColumns

MISSING = -1
LINE_SIMILARITY = 0.95  # = compare._address: two address lines written alike
Levels = NDArray[np.int8]
_AT = {spec.name: index for index, spec in enumerate(SPECS)}


def _similarity(strings: CodeTable, left: Codes, right: Codes) -> NDArray[np.float64]:
    """Jaro-Winkler of each pair of strings (their codes), as the scalar comparison computes it."""
    if not len(left):
        return np.zeros(0)
    scores: NDArray[np.float64] = cpdist(
        strings.strings(left), strings.strings(right),
        scorer=JaroWinkler.normalized_similarity, dtype=np.float64,
    )  # fmt: skip
    return scores


def _any_equal(left: Codes, right: Codes) -> Flags:
    """Rows of two (m, width) code tables sharing a code (-1 and below never count)."""
    same = (left[:, :, None] == right[:, None, :]) & (left[:, :, None] >= 0)
    found: Flags = same.any(axis=(1, 2))
    return found


def _part_levels(part: PartColumns, strings: CodeTable, a: Codes, b: Codes) -> Levels:
    """``name_agreement._compare_part`` of one name part, MISSING without pinyin either side."""
    level = np.full(len(a), MISSING, dtype=np.int8)
    pa, pb, ta, tb = part.pinyin[a], part.pinyin[b], part.text[a], part.text[b]
    present = (pa >= 0) & (pb >= 0) & (ta >= 0) & (tb >= 0)
    exact = present & (ta == tb)
    level[present] = 0
    level[exact] = 4
    level[present & ~exact & (pa == pb)] = 3
    rest = np.flatnonzero(present & ~exact & (pa != pb))
    a, b, pa, pb = a[rest], b[rest], pa[rest], pb[rest]
    one_missing = (part.deletions[a] == part.syllables[b][:, None]).any(axis=1) | (
        part.deletions[b] == part.syllables[a][:, None]
    ).any(axis=1)
    swap = (pa == part.other_pinyin[b]) | (pb == part.other_pinyin[a]) | one_missing
    level[rest[swap]] = 2
    rest, a, b, pa, pb = rest[~swap], a[~swap], b[~swap], pa[~swap], pb[~swap]
    similar = _similarity(strings, pa, pb) >= SIMILARITY_THRESHOLD
    similar |= (part.has_v[a] | part.has_v[b]) & (part.pinyin_u[a] == part.pinyin_u[b])
    phonetic = part.phonetic[a]
    similar |= (phonetic >= 0) & (phonetic == part.phonetic[b])
    initials = (part.length[a] == part.length[b]) & (part.length[a] >= 2)
    initials &= part.initials[a] == part.initials[b]
    check = np.flatnonzero(initials & ~similar)
    if len(check):
        shared = _any_equal(part.syllable_codes[a[check]], part.syllable_codes[b[check]])
        similar[check[shared]] = True
    level[rest[similar]] = 1
    return level


def _birth_levels(c: RecordColumns, a: Codes, b: Codes) -> Levels:
    oa, ob = c.birth_ordinal[a], c.birth_ordinal[b]
    days = np.abs(oa - ob)
    same_year = c.birth_year[a] == c.birth_year[b]
    swapped = (
        same_year & (c.birth_month[a] == c.birth_day[b]) & (c.birth_day[a] == c.birth_month[b])
    )
    mistyped = np.zeros(len(a), dtype=np.int64)
    for digit in c.birth_digits:
        mistyped += digit[a] != digit[b]
    conditions = [(oa < 0) | (ob < 0), oa == ob, (days <= 1) | swapped, mistyped == 1, same_year,
                  (mistyped == 2) | (days <= 400)]  # fmt: skip
    return np.select(conditions, [MISSING, 4, 3, 3, 2, 1], 0).astype(np.int8)


def _same_value(codes: Codes, a: Codes, b: Codes) -> Levels:
    """MISSING when either is empty (-1), else 1 for the same value, 0 for another."""
    x, y = codes[a], codes[b]
    return np.where((x < 0) | (y < 0), MISSING, x == y).astype(np.int8)


def _address_levels(c: RecordColumns, a: Codes, b: Codes) -> Levels:
    """``compare._address``, rule for rule."""
    district_agrees = (c.district[a] == c.district[b]) | ~c.district_set[a] | ~c.district_set[b]
    township_agrees = (c.township[a] == c.township[b]) | ~c.township_set[a] | ~c.township_set[b]
    flat = (c.dwelling[a] >= 0) & (c.dwelling[a] == c.dwelling[b])
    flat &= district_agrees & township_agrees
    placed = c.district_set | c.township_set | c.postal_code_set
    village = c.village_set[a] & (c.village[a] == c.village[b]) & township_agrees
    village &= district_agrees
    township = c.township_set[a] & (c.township[a] == c.township[b])
    district = ((c.district[a] >= 0) & (c.district[a] == c.district[b])) | (
        (c.postal_code[a] >= 0) & (c.postal_code[a] == c.postal_code[b])
    )
    before_line = [c.latin[a] & c.latin[b], flat, ~placed[a] | ~placed[b], village]
    level = np.select(before_line, [MISSING, 3, MISSING, 3], 9).astype(np.int8)
    rest = np.flatnonzero((level == 9) & c.line_set[a] & c.line_set[b])
    alike = _similarity(c.strings, c.line[a[rest]], c.line[b[rest]]) >= LINE_SIMILARITY
    line = np.zeros(len(a), dtype=bool)
    line[rest[alike]] = True
    after_line = np.select([line, township, district], [3, 2, 1], 0).astype(np.int8)
    return np.where(level == 9, after_line, level).astype(np.int8)


def _one_by_one(
    levels: Levels,
    column: int,
    pairs: Codes,
    records: list[MatchFeatures],
    a: Codes,
    b: Codes,
    grade: Callable[[MatchFeatures, MatchFeatures], int],
) -> None:
    for k, i, j in zip(pairs.tolist(), a[pairs].tolist(), b[pairs].tolist(), strict=True):
        levels[k, column] = grade(records[i], records[j])


def _latin_parts(levels: Levels, pairs: Codes, records: list[MatchFeatures], a: Codes,
                 b: Codes) -> None:  # fmt: skip
    postcode, number, parts = _AT["postcode"], _AT["house_number"], _AT["address_parts"]
    for k, i, j in zip(pairs.tolist(), a[pairs].tolist(), b[pairs].tolist(), strict=True):
        x, y = records[i], records[j]
        la, lb = _latin(x), _latin(y)
        levels[k, postcode] = compare_postcode(x.postal_code, y.postal_code)
        levels[k, number] = compare_house_number(la, lb)
        levels[k, parts] = compare_parts(la, lb)


def compare_pairs(c: RecordColumns, a: Codes, b: Codes) -> Levels:
    """The comparison vector of every pair ``(a[k], b[k])``: an (m, 12) array of levels."""
    records = list(c.records)
    levels = np.full((len(a), len(SPECS)), MISSING, dtype=np.int8)
    ida, idb = c.resident_id[a], c.resident_id[b]
    both_valid = (ida >= 0) & (idb >= 0)
    present = c.any_id[a] & c.any_id[b]
    levels[:, _AT["resident_id"]] = np.where(both_valid, np.where(ida == idb, 3, 0), MISSING)
    mistyped = np.flatnonzero(present & ~both_valid)
    _one_by_one(levels, _AT["resident_id"], mistyped, records, a, b, _resident_id)
    name_a, name_b = c.name[a], c.name[b]
    levels[:, _AT["family_name"]] = _part_levels(c.family, c.strings, name_a, name_b)
    levels[:, _AT["given_name"]] = _part_levels(c.given, c.strings, name_a, name_b)
    levels[:, _AT["birth_date"]] = _birth_levels(c, a, b)
    levels[:, _AT["sex"]] = _same_value(c.sex, a, b)
    phones_a, phones_b = c.phones[a], c.phones[b]
    levels[:, _AT["phone"]] = np.where(
        (phones_a[:, 0] < 0) | (phones_b[:, 0] < 0), MISSING, _any_equal(phones_a, phones_b)
    )
    levels[:, _AT["address"]] = _address_levels(c, a, b)
    levels[:, _AT["insurance_number"]] = _same_value(c.insurance, a, b)
    both_local = np.flatnonzero(c.has_local_ids[a] & c.has_local_ids[b])
    _one_by_one(levels, _AT["other_id"], both_local, records, a, b, _other_id)
    _latin_parts(levels, np.flatnonzero(c.latin[a] & c.latin[b]), records, a, b)
    return levels
