"""The comparison vector of two source records, and their blocking keys (pure, per pair).

Each comparison grades agreement into levels (0 = disagree ... highest = exact); -1 means a
value is missing on either side and is neutral in the Fellegi-Sunter sum. The specs are data:
the trained model (hub.mpi.matching.model) carries one m/u pair per level of each.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from operator import ne

from rapidfuzz.distance import OSA, JaroWinkler

from hub.mpi.matching.addresses import (
    LatinAddress,
    chinese_dwelling,
    compare_house_number,
    compare_parts,
    compare_postcode,
    latin_address,
)
from hub.mpi.matching.features import MatchFeatures
from hub.mpi.matching.identifiers import id_distance_kind
from hub.mpi.matching.model import ComparisonSpec
from hub.mpi.matching.name_agreement import compare_family, compare_given
from hub.mpi.matching.names import blocking_keys as name_blocking_keys

MISSING = -1

SPECS: tuple[ComparisonSpec, ...] = (
    # Two different IDs that both pass the check digit: strong evidence of two people (twins).
    ComparisonSpec("resident_id", ("different_valid", "different", "near", "exact"), tf=False),
    ComparisonSpec("family_name", ("different", "similar", "swap", "homophone", "exact"), tf=True),
    ComparisonSpec(
        "given_name", ("different", "similar", "partial", "homophone", "exact"), tf=True
    ),
    # close: within about a year (400 days), or two digits of YYYYMMDD mistyped.
    ComparisonSpec("birth_date", ("different", "close", "same_year", "near", "exact"), tf=False),
    ComparisonSpec("sex", ("different", "same"), tf=False),
    ComparisonSpec("phone", ("different", "same"), tf=False),
    ComparisonSpec("address", ("different", "district", "township", "village"), tf=False),
    ComparisonSpec("insurance_number", ("different", "same"), tf=False),
    # Any other identifier both records carry in the same system (a shared registry number,
    # a national ID of another country); facility numbers differ by system, so stay missing.
    ComparisonSpec("other_id", ("different", "near", "exact"), tf=False),
    # Addresses written without Hanzi (hub.mpi.matching.addresses), each part graded on its own;
    # missing for Chinese addresses, which the address comparison above reads.
    ComparisonSpec("postcode", ("different", "near", "exact"), tf=False),
    ComparisonSpec("house_number", ("different", "exact"), tf=False),
    ComparisonSpec("address_parts", ("different", "one", "several", "all"), tf=False),
)


def _resident_id(a: MatchFeatures, b: MatchFeatures) -> int:
    x, y = a.resident_id or a.resident_id_raw, b.resident_id or b.resident_id_raw
    if not x or not y:
        return MISSING
    if a.resident_id and b.resident_id:
        return 3 if a.resident_id == b.resident_id else 0
    # At least one side was mistyped (fails its check digit): it can only come near.
    kind = id_distance_kind(x, y) if len(x) == len(y) == 18 else "different"
    return 2 if kind in ("same", "one_digit", "transposition") else 1


def _name_level(level: int) -> int:
    return MISSING if level < 0 else level


def _birth_date(a: date | None, b: date | None) -> int:
    if a is None or b is None:
        return MISSING
    if a == b:
        return 4
    days_apart = abs(a.toordinal() - b.toordinal())
    if days_apart <= 1 or (a.year == b.year and a.month == b.day and a.day == b.month):
        return 3
    mistyped = sum(map(ne, _date_digits(a), _date_digits(b)))
    if mistyped == 1:
        return 3
    if a.year == b.year:
        return 2
    return 1 if mistyped == 2 or days_apart <= 400 else 0


@lru_cache(maxsize=65_536)
def _date_digits(d: date) -> str:
    """YYYYMMDD, the year padded to four digits (strftime leaves a year below 1000 short)."""
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


@lru_cache(maxsize=65_536)
def _day_key(d: date) -> str:
    """The birth date in a blocking key (strftime: kept as the stored keys were made)."""
    return d.strftime("%Y%m%d")


def _latin(f: MatchFeatures) -> LatinAddress | None:
    """The record's address read as a western one, unless a Chinese district, township or
    village was found in it (its last line may then be just "3-2-301")."""
    if f.district or f.township or f.village:
        return None
    return latin_address(f.line)


def _address(a: MatchFeatures, b: MatchFeatures) -> int:
    if _latin(a) and _latin(b):
        return MISSING  # graded part by part: postcode, house_number, address_parts
    if _same_flat(a, b):
        return 3
    if not (a.district or a.township or a.postal_code) or not (
        b.district or b.township or b.postal_code
    ):
        return MISSING
    # A part one record left out (a partial address) does not contradict the other's.
    towns_agree = a.township == b.township or not a.township or not b.township
    districts_agree = a.district == b.district or not a.district or not b.district
    if a.village and a.village == b.village and towns_agree and districts_agree:
        return 3
    if a.line and b.line and JaroWinkler.normalized_similarity(a.line, b.line) >= 0.95:
        return 3
    if a.township and a.township == b.township:
        return 2
    same_district = a.district is not None and a.district == b.district
    if same_district or (a.postal_code is not None and a.postal_code == b.postal_code):
        return 1
    return 0


def _same_flat(a: MatchFeatures, b: MatchFeatures) -> bool:
    """One flat of one estate (``chinese_dwelling``) in districts and townships that do not
    contradict: the desk wrote the same home, with or without its community."""
    flat = chinese_dwelling(a.line)
    if flat is None or flat != chinese_dwelling(b.line):
        return False
    return (not a.district or not b.district or a.district == b.district) and (
        not a.township or not b.township or a.township == b.township
    )


def _other_id(a: MatchFeatures, b: MatchFeatures) -> int:
    if not a.local_ids or not b.local_ids:
        return MISSING
    theirs: dict[str, list[str]] = {}
    for system, value in b.local_ids:
        theirs.setdefault(system, []).append(value)
    best = MISSING
    for system, value in a.local_ids:
        for other in theirs.get(system, ()):
            if value == other:
                return 2
            best = max(best, 1 if OSA.distance(value, other) <= 1 else 0)
    return best


def _latin_postcode(a: MatchFeatures, la: LatinAddress | None) -> str | None:
    return a.postal_code if la is not None else None


def compare(a: MatchFeatures, b: MatchFeatures) -> tuple[int, ...]:
    na, nb = a.name, b.name
    la, lb = _latin(a), _latin(b)
    return (
        _resident_id(a, b),
        _name_level(int(compare_family(na, nb))) if na.family_pinyin and nb.family_pinyin
        else MISSING,
        _name_level(int(compare_given(na, nb))) if na.given_pinyin and nb.given_pinyin
        else MISSING,
        _birth_date(a.birth_date, b.birth_date),
        MISSING if not a.sex or not b.sex else int(a.sex == b.sex),
        MISSING if not a.phones or not b.phones else int(bool(set(a.phones) & set(b.phones))),
        _address(a, b),
        MISSING if not a.insurance_number or not b.insurance_number
        else int(a.insurance_number == b.insurance_number),
        _other_id(a, b),
        compare_postcode(_latin_postcode(a, la), _latin_postcode(b, lb)),
        compare_house_number(la, lb),
        compare_parts(la, lb),
    )  # fmt: skip


def tf_values(f: MatchFeatures) -> tuple[str | None, ...]:
    """The values whose frequency adjusts the exact-agreement weight (names)."""
    keys = f.name
    return (None, keys.family_pinyin or None, keys.given_pinyin or None,
            None, None, None, None, None, None, None, None, None)  # fmt: skip


def _date_variants(d: date) -> list[str]:
    variants = [d]
    if d.day <= 12 and d.day != d.month:
        variants.append(date(d.year, d.day, d.month))
    return [v.strftime("%Y%m%d") for v in variants]


def record_keys(f: MatchFeatures) -> tuple[str, ...]:
    """Blocking keys a record is stored under (OR-ed; never a surname alone)."""
    keys: list[str] = []
    if f.resident_id:
        keys += [f"id:{f.resident_id}", f"ib:{f.resident_id[:14]}"]  # region + birth date
    elif f.resident_id_raw and len(f.resident_id_raw) == 18:
        keys.append(f"ib:{f.resident_id_raw[:14]}")
    keys += [f"ph:{p}" for p in f.phones]
    if f.insurance_number:
        keys.append(f"in:{f.insurance_number}")
    keys += [f"ox:{system}|{value}" for system, value in f.local_ids]
    name = f.name
    if f.birth_date:
        year = f.birth_date.year
        for key in name_blocking_keys(name):
            if key.startswith(("fp:", "ss:")):
                keys.append(f"{key}|{year}")
        day = _day_key(f.birth_date)
        if name.given_pinyin:
            keys.append(f"gd:{name.given_pinyin}|{day}")
        if name.family_pinyin:
            keys.append(f"fd:{name.family_pinyin}|{day}")
    elif name.full_pinyin:
        keys.append(f"fp:{name.full_pinyin}|{f.district or ''}")
    keys += _western_keys(f)
    return tuple(dict.fromkeys(keys))


def _name_parts(f: MatchFeatures) -> list[str]:
    """Phonetic key (else letters) of the family and of the given name, whichever exist."""
    name = f.name
    parts = (name.family_phonetic or name.family_pinyin, name.given_phonetic or name.given_pinyin)
    return [p for p in parts if p]


def _western_keys(f: MatchFeatures) -> list[str]:
    """Keys of records with a Latin-script address or a western name (phonetic keys): each
    pairs two things (both name parts; a name part and the birth date, the postcode or the
    house number; the birth date and the postcode or the house number), so a record whose
    birth year, one name part or postcode was mistyped still meets its duplicates. Never a
    postcode or a name part alone. Chinese records (Hanzi address, pinyin names) get none."""
    address = _latin(f)
    if address is None and not f.name.phonetic:
        return []
    keys: list[str] = []
    day = _day_key(f.birth_date) if f.birth_date else None
    parts = _name_parts(f)
    if len(parts) == 2:
        keys.append("nn:" + "|".join(sorted(parts)))  # any birth date, either order
    if day:
        keys += [f"dn:{day}|{p}" for p in parts]
    if address is None:
        return keys
    postcode, number = f.postal_code, address.number
    if postcode:
        if number:
            keys.append(f"pn:{postcode}|{number}")
        keys += [f"pp:{postcode}|{p}" for p in parts]  # either part: swaps meet too
        if day:
            keys.append(f"pd:{postcode}|{day}")
    if number:
        keys += [f"np:{number}|{p}" for p in parts]
        if day:
            keys.append(f"nd:{number}|{day}")
    return keys


def query_keys(f: MatchFeatures) -> tuple[str, ...]:
    """Keys to look up for a new record: its own plus birth-date variants (day/month swap)."""
    keys = list(record_keys(f))
    if f.birth_date:
        name = f.name
        for variant in _date_variants(f.birth_date)[1:]:
            if name.given_pinyin:
                keys.append(f"gd:{name.given_pinyin}|{variant}")
            if name.family_pinyin:
                keys.append(f"fd:{name.family_pinyin}|{variant}")
    return tuple(dict.fromkeys(keys))
