"""A batch of match features as columns: what the column-wise comparison reads, once per record.

Strings become integer codes (one code table per kind of value, so equal values get equal
codes and ``-1`` stands for None), dates their ordinal, year, month, day and YYYYMMDD digits,
names their keys' codes (:class:`NameColumns`), with every string a comparison grades by
similarity kept beside its code. Built in one pass over the records; the records themselves are
kept for the few rules graded one pair at a time by :mod:`hub.mpi.matching.compare`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray

from hub.mpi.matching.addresses import chinese_dwelling, is_chinese_address
from hub.mpi.matching.compare import _latin, tf_values
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

    def code_many(self, values: Iterable[Hashable]) -> Codes:
        """:meth:`code` of each value (one loop, no call per value)."""
        codes, known, out = self.codes, self.values, []
        for value in values:
            if value is None:
                out.append(-1)
                continue
            found = codes.get(value)
            if found is None:
                found = codes[value] = len(known)
                known.append(value)
            out.append(found)
        return np.asarray(out, dtype=np.int64)

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
    name: Codes  # the record's distinct name: the row of ``family``, ``given``
    resident_id: Codes  # valid resident ID; -1 when none
    any_id: Flags  # a resident ID, valid or not
    family: PartColumns  # per distinct name (``name``)
    given: PartColumns
    hanzi_name: Flags  # the name is written in Hanzi (household.hanzi_names, per record)
    name_tf_values: list[tuple[str | None, ...]]  # compare.tf_values per distinct name
    birth_ordinal: Codes  # -1 when no birth date
    birth_year: Codes
    birth_month: Codes
    birth_day: Codes
    birth_digits: NDArray[np.int8]  # (8, n): the digits of YYYYMMDD
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


def _code_column(values: Sequence[Hashable], table: CodeTable | None = None) -> Codes:
    """Codes of ``values`` (None -> -1), in ``table`` or in a table of their own."""
    if table is not None:
        return table.code_many(values)
    seen: dict[Hashable, int] = {}
    codes = np.fromiter(
        (seen.setdefault(v, len(seen)) for v in values), dtype=np.int64, count=len(values)
    )
    if None in seen:
        codes[codes == seen[None]] = -1
    return codes


def _padded_codes(rows: Sequence[Sequence[Hashable]]) -> Codes:
    """(n, width) codes of each row's values in a table of their own, -1 padding."""
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    codes = _code_column([value for row in rows for value in row])
    out = np.full((len(rows), max(int(lengths.max(initial=0)), 1)), -1, dtype=np.int64)
    first = np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[np.repeat(np.arange(len(rows)), lengths), np.arange(len(codes)) - first] = codes
    return out


def _dwellings(lines: Codes, strings: CodeTable) -> Codes:
    """Codes of ``chinese_dwelling`` of each line (its code in ``strings``), read once per
    distinct line."""
    distinct = np.unique(lines[lines >= 0])
    by_line = np.full(len(strings.values), -1, dtype=np.int64)
    texts = [str(strings.values[c]) for c in distinct.tolist()]
    by_line[distinct] = _code_column([chinese_dwelling(text) for text in texts])
    found: Codes = np.where(lines >= 0, by_line[lines], -1)
    return found


def _flags(values: Sequence[object]) -> Flags:
    return np.fromiter(map(bool, values), dtype=bool, count=len(values))


class _Names:
    """Per distinct name: its parts' rows (family, given) and whether it is written in Hanzi."""

    def __init__(self) -> None:
        self.strings, self.plain, self.tuples, self.words = (
            CodeTable(), CodeTable(), CodeTable(), CodeTable()
        )  # fmt: skip
        self.ids: dict[tuple[str, str, str], int] = {}
        self.family: list[tuple[object, ...]] = []
        self.given: list[tuple[object, ...]] = []
        self.hanzi: list[bool] = []
        self.tf_values: list[tuple[str | None, ...]] = []

    def id_of(self, f: MatchFeatures) -> int:
        key = (f.full_name, f.family, f.given)
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = len(self.hanzi)
            keys = f.name
            self.family.append(self._part(keys, family=True))
            self.given.append(self._part(keys, family=False))
            self.hanzi.append(is_chinese_address(f.full_name or f"{f.family}{f.given}"))
            self.tf_values.append(tf_values(f))
        return found

    def _part(self, keys: NameKeys, *, family: bool) -> tuple[object, ...]:
        text = keys.family if family else keys.given
        pinyin = keys.family_pinyin if family else keys.given_pinyin
        other = keys.given_pinyin if family else keys.family_pinyin
        phonetic = keys.family_phonetic if family else keys.given_phonetic
        syllables = keys.family_syllables if family else keys.given_syllables
        tuples, plain, strings = self.tuples, self.plain, self.strings
        # The tuple less one syllable (one_missing), interned beside the real ones: a code
        # equal to another record's syllables means exactly that tuple.
        deletions = [tuples.code(syllables[:k] + syllables[k + 1 :]) for k in range(len(syllables))]
        return (
            plain.code(text or None), strings.code(pinyin or None), strings.code(other or None),
            strings.code(pinyin.replace("v", "u")), "v" in pinyin, plain.code(phonetic or None),
            tuples.code(syllables), len(syllables), plain.code(tuple(s[:1] for s in syllables)),
            deletions if len(syllables) > 1 else [], [self.words.code(s) for s in syllables],
        )  # fmt: skip

    def columns(self, rows: list[tuple[object, ...]]) -> PartColumns:
        c = list(zip(*rows, strict=True)) if rows else [()] * 11
        return PartColumns(
            text=_array(c[0]), pinyin=_array(c[1]), other_pinyin=_array(c[2]),
            pinyin_u=_array(c[3]), has_v=np.array(c[4], dtype=bool),
            phonetic=_array(c[5]), syllables=_array(c[6]),
            deletions=_padded(c[9], NOT_FOUND), length=_array(c[7]),
            initials=_array(c[8]), syllable_codes=_padded(c[10], -1),
        )  # fmt: skip


def _digit(values: Codes, power: int) -> NDArray[np.int8]:
    digit: NDArray[np.int8] = (values // power % 10).astype(np.int8)
    return digit


def record_columns(records: Sequence[MatchFeatures]) -> RecordColumns:
    names = _Names()
    name_id = _array(map(names.id_of, records))
    dates = [f.birth_date for f in records]
    no_date = date(1, 1, 1)
    year = _array((d or no_date).year for d in dates)
    month = _array((d or no_date).month for d in dates)
    day = _array((d or no_date).day for d in dates)
    yyyymmdd = year * 10_000 + month * 100 + day
    lines = [f.line for f in records]
    line_codes = names.strings.code_many(lines)
    districts, townships = [f.district for f in records], [f.township for f in records]
    villages, postcodes = [f.village for f in records], [f.postal_code for f in records]
    return RecordColumns(
        records=records,
        strings=names.strings,
        name=name_id,
        resident_id=_code_column([f.resident_id or None for f in records]),
        any_id=_flags([f.resident_id or f.resident_id_raw for f in records]),
        family=names.columns(names.family),
        given=names.columns(names.given),
        hanzi_name=np.array(names.hanzi, dtype=bool)[name_id],
        name_tf_values=names.tf_values,
        birth_ordinal=_array(d.toordinal() if d else -1 for d in dates),
        birth_year=year,
        birth_month=month,
        birth_day=day,
        birth_digits=np.stack([_digit(yyyymmdd, 10**k) for k in range(7, -1, -1)]),
        sex=_code_column([f.sex or None for f in records]),
        phones=_padded_codes([f.phones for f in records]),
        latin=_flags([_latin(f) for f in records]),
        district=_code_column(districts),
        district_set=_flags(districts),
        township=_code_column(townships),
        township_set=_flags(townships),
        village=_code_column(villages),
        village_set=_flags(villages),
        line=line_codes,
        line_set=_flags(lines),
        postal_code=_code_column(postcodes),
        postal_code_set=_flags(postcodes),
        dwelling=_dwellings(line_codes, names.strings),
        insurance=_code_column([f.insurance_number or None for f in records]),
        has_local_ids=_flags([f.local_ids for f in records]),
    )
