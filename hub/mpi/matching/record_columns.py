"""A batch of match features as columns: what the column-wise comparison reads, once per record.

Strings become integer codes (one code table per kind of value, so equal values get equal
codes and ``-1`` stands for None), dates their ordinal, year, month, day and YYYYMMDD digits,
names their keys' codes (:class:`NameColumns`), with every string a comparison grades by
similarity kept beside its code. Built in one pass over the records; the records themselves are
kept for the few rules graded one pair at a time by :mod:`hub.mpi.matching.compare`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray

from hub.mpi.matching.addresses import chinese_dwelling, is_chinese_address
from hub.mpi.matching.compare import _latin
from hub.mpi.matching.features import MatchFeatures
from hub.mpi.matching.names import NameKeys

Codes = NDArray[np.int64]
Flags = NDArray[np.bool_]
NOT_FOUND = -2  # a deletion variant no record carries: equal to no code


class CodeTable:
    """Values -> dense codes (None -> -1); ``values[code]`` gives the value back."""

    def __init__(self) -> None:
        self.codes: dict[Hashable, int] = {}
        self.values: list[Hashable] = []

    def code(self, value: Hashable) -> int:
        if value is None:
            return -1
        found = self.codes.get(value)
        if found is None:
            found = self.codes[value] = len(self.values)
            self.values.append(value)
        return found

    def strings(self, codes: Codes) -> list[str]:
        """The values of ``codes`` (all of them codes of strings)."""
        values = self.values
        return [str(values[c]) for c in codes.tolist()]


def _array(values: Iterable[int]) -> Codes:
    return np.fromiter(values, dtype=np.int64)


def _padded(rows: Sequence[Sequence[int]], fill: int) -> Codes:
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), max(width, 1)), fill, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


@dataclass
class PartColumns:
    """One name part (family or given) of every record, for ``_compare_part``."""

    text: Codes  # the written part (simplified Hanzi or normalised Latin); -1 when empty
    pinyin: Codes  # its pinyin (strings table); -1 when empty
    other_pinyin: Codes  # the other part's pinyin (for swaps); -1 when empty
    pinyin_u: Codes  # the pinyin with ü ('v') written 'u' (strings table)
    has_v: Flags
    phonetic: Codes  # -1 when empty
    syllables: Codes  # code of the syllable tuple
    deletions: Codes  # (n, width): codes of the tuple less one syllable, NOT_FOUND padding
    length: Codes  # number of syllables
    initials: Codes  # code of the syllables' first letters
    syllable_codes: Codes  # (n, width): each syllable's code, -1 padding


@dataclass
class RecordColumns:
    records: Sequence[MatchFeatures]
    strings: CodeTable  # names' pinyin and every other string graded by similarity
    resident_id: Codes  # valid resident ID; -1 when none
    any_id: Flags  # a resident ID, valid or not
    family: PartColumns
    given: PartColumns
    birth_ordinal: Codes  # -1 when no birth date
    birth_year: Codes
    birth_month: Codes
    birth_day: Codes
    birth_digits: NDArray[np.int8]  # (n, 8): YYYYMMDD
    sex: Codes  # -1 when empty
    phones: Codes  # (n, width), -1 padding
    latin: Flags  # the address is read as a western one (compare._latin)
    district: Codes  # -1 when None ("" has a code: ``is not None`` rules read it)
    district_set: Flags
    township: Codes
    township_set: Flags
    village: Codes
    village_set: Flags
    line: Codes  # strings table; -1 when None
    line_set: Flags
    postal_code: Codes
    postal_code_set: Flags
    dwelling: Codes  # the flat of a Chinese address (addresses.chinese_dwelling); -1 none
    insurance: Codes  # -1 when empty
    has_local_ids: Flags
    hanzi_name: Flags  # the name is written in Hanzi (household.hanzi_names, per record)


def _part_rows(
    keys: NameKeys, family: bool, strings: CodeTable, tuples: CodeTable, plain: CodeTable
) -> tuple[int, ...]:
    text = keys.family if family else keys.given
    pinyin = keys.family_pinyin if family else keys.given_pinyin
    other = keys.given_pinyin if family else keys.family_pinyin
    phonetic = keys.family_phonetic if family else keys.given_phonetic
    syllables = keys.family_syllables if family else keys.given_syllables
    return (
        plain.code(text or None),
        strings.code(pinyin or None),
        strings.code(other or None),
        strings.code(pinyin.replace("v", "u")),
        "v" in pinyin,
        plain.code(phonetic or None),
        tuples.code(syllables),
        len(syllables),
        plain.code(tuple(s[:1] for s in syllables)),
    )


def _part_columns(
    rows: list[tuple[int, ...]],
    syllables: list[tuple[str, ...]],
    tuples: CodeTable,
    words: CodeTable,
) -> PartColumns:
    columns = list(zip(*rows, strict=True)) if rows else [()] * 9
    deletions = [
        [tuples.codes.get(s[:k] + s[k + 1 :], NOT_FOUND) for k in range(len(s))]
        if len(s) > 1 else [] for s in syllables
    ]  # fmt: skip
    return PartColumns(
        text=_array(columns[0]), pinyin=_array(columns[1]), other_pinyin=_array(columns[2]),
        pinyin_u=_array(columns[3]), has_v=np.array(columns[4], dtype=bool),
        phonetic=_array(columns[5]), syllables=_array(columns[6]),
        deletions=_padded(deletions, NOT_FOUND), length=_array(columns[7]),
        initials=_array(columns[8]),
        syllable_codes=_padded([[words.code(s) for s in t] for t in syllables], -1),
    )  # fmt: skip


def _digits(d: date) -> tuple[int, ...]:
    return tuple(int(c) for c in f"{d.year:04d}{d.month:02d}{d.day:02d}")


def record_columns(records: Sequence[MatchFeatures]) -> RecordColumns:
    strings, plain, tuples, words = CodeTable(), CodeTable(), CodeTable(), CodeTable()
    by_name: dict[tuple[str, str, str], tuple[tuple[int, ...], tuple[int, ...], bool]] = {}
    family_rows, given_rows = [], []
    family_syllables, given_syllables = [], []
    for f in records:
        name_key = (f.full_name, f.family, f.given)
        found = by_name.get(name_key)
        keys = f.name
        if found is None:
            found = by_name[name_key] = (
                _part_rows(keys, True, strings, tuples, plain),
                _part_rows(keys, False, strings, tuples, plain),
                is_chinese_address(f.full_name or f"{f.family}{f.given}"),
            )
        family_rows.append(found[0])
        given_rows.append(found[1])
        family_syllables.append(keys.family_syllables)
        given_syllables.append(keys.given_syllables)
    dates = [f.birth_date for f in records]
    no_date = date(1, 1, 1)

    def column(read: Callable[[MatchFeatures], Hashable], table: CodeTable = plain) -> Codes:
        return _array(table.code(read(f)) for f in records)

    def is_set(read: Callable[[MatchFeatures], object]) -> Flags:
        return np.fromiter((bool(read(f)) for f in records), dtype=bool, count=len(records))

    return RecordColumns(
        records=records,
        strings=strings,
        resident_id=column(lambda f: f.resident_id or None),
        any_id=is_set(lambda f: f.resident_id or f.resident_id_raw),
        family=_part_columns(family_rows, family_syllables, tuples, words),
        given=_part_columns(given_rows, given_syllables, tuples, words),
        birth_ordinal=_array(d.toordinal() if d else -1 for d in dates),
        birth_year=_array((d or no_date).year for d in dates),
        birth_month=_array((d or no_date).month for d in dates),
        birth_day=_array((d or no_date).day for d in dates),
        birth_digits=np.array([_digits(d or no_date) for d in dates], dtype=np.int8).reshape(
            len(records), 8
        ),
        sex=column(lambda f: f.sex or None),
        phones=_padded([[plain.code(p) for p in f.phones] for f in records], -1),
        latin=is_set(_latin),
        district=column(lambda f: f.district),
        district_set=is_set(lambda f: f.district),
        township=column(lambda f: f.township),
        township_set=is_set(lambda f: f.township),
        village=column(lambda f: f.village),
        village_set=is_set(lambda f: f.village),
        line=column(lambda f: f.line, strings),
        line_set=is_set(lambda f: f.line),
        postal_code=column(lambda f: f.postal_code),
        postal_code_set=is_set(lambda f: f.postal_code),
        dwelling=column(lambda f: chinese_dwelling(f.line)),
        insurance=column(lambda f: f.insurance_number or None),
        has_local_ids=is_set(lambda f: f.local_ids),
        hanzi_name=np.array(
            [by_name[(f.full_name, f.family, f.given)][2] for f in records], dtype=bool
        ),
    )
