"""Chinese personal identity numbers (GB 11643-1999 公民身份号码) and their look-alikes.

An 18-character number is six digits of address code (GB/T 2260), eight of birth date
(YYYYMMDD), three of sequence code (odd for men, even for women) and one ISO 7064 MOD 11-2
check character (``0``-``9`` or ``X``). Numbers of the same shape are issued to:

* Hong Kong, Macau and Taiwan residents holding a mainland residence permit (港澳台居民居住证,
  2018): address code 810000, 820000 or 830000;
* foreign permanent residents (外国人永久居留身份证, 2023 edition): first digit ``9``, then the
  issuing province (2 digits), a numeric nationality code (3), the birth date (8), a sequence
  (3) and the same check character. The older edition (2004/2017 cards, still valid) carried a
  15-character number, three Latin letters of nationality and twelve digits, that this module
  checks for shape only.

First-generation resident cards carried 15 digits (two-digit year, no check digit);
``upgrade_15_to_18`` converts them as the standard prescribes.

Errors never echo the number itself (no personal data in messages): ``InvalidIdError.reason``
is a short code and the message says what is wrong, not what was typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Literal

Sex = Literal["male", "female"]
DistanceKind = Literal["same", "one_digit", "transposition", "different"]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"  # index = weighted sum mod 11

# Provincial-level prefixes of GB/T 2260 that appear on mainland resident numbers.
_PROVINCES = frozenset((
    "11", "12", "13", "14", "15",  # 华北
    "21", "22", "23",  # 东北
    "31", "32", "33", "34", "35", "36", "37",  # 华东
    "41", "42", "43", "44", "45", "46",  # 中南
    "50", "51", "52", "53", "54",  # 西南
    "61", "62", "63", "64", "65",  # 西北
))  # fmt: skip
_PERMIT_REGIONS = frozenset({"810000", "820000", "830000"})  # HK, Macau, Taiwan
_EARLIEST_BIRTH = date(1850, 1, 1)

# Full-width ASCII (U+FF01..U+FF5E) to ASCII, and the ideographic space to a space.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_WHITESPACE = re.compile(r"\s+")
_DIGITS_17 = re.compile(r"[0-9]{17}")
_DIGITS_15 = re.compile(r"[0-9]{15}")
_FOREIGN_OLD = re.compile(r"[A-Z]{3}[0-9]{12}")


class InvalidIdError(ValueError):
    """The text is not a well-formed identity number; ``reason`` says which rule failed.

    Reasons: ``empty``, ``length``, ``characters``, ``region``, ``birth_date``, ``check_digit``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class IdKind(StrEnum):
    RESIDENT = "resident"
    HK_MACAU_TW_PERMIT = "hk_macau_tw_permit"
    FOREIGN_PERMANENT_NEW = "foreign_permanent_new"
    FOREIGN_PERMANENT_OLD = "foreign_permanent_old"
    LEGACY15 = "legacy15"


@dataclass(frozen=True)
class ParsedId:
    normalized: str
    kind: IdKind
    region_code: str | None
    birth_date: date | None
    sex: Sex | None
    sequence: str | None


def normalize_text(text: str) -> str:
    """Fold full-width characters to ASCII, drop all whitespace and uppercase ``x``."""
    return _WHITESPACE.sub("", text.translate(_FULLWIDTH)).upper()


def check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if not _DIGITS_17.fullmatch(first17):
        raise InvalidIdError("characters", "the check digit needs exactly 17 ASCII digits")
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def upgrade_15_to_18(s: str) -> str:
    """Convert a first-generation 15-digit number: insert ``19`` before the year, add a check."""
    text = normalize_text(s)
    if not _DIGITS_15.fullmatch(text):
        raise InvalidIdError("characters", "a first-generation number has exactly 15 digits")
    body = f"{text[:6]}19{text[6:]}"
    return body + check_digit(body)


def parse_id(text: str) -> ParsedId:
    """Validate and decompose an identity number; raise ``InvalidIdError`` if it is not one."""
    s = normalize_text(text)
    if not s:
        raise InvalidIdError("empty", "the identity number is empty")
    if len(s) == 18:
        return _parse_18(s)
    if len(s) == 15:
        if _DIGITS_15.fullmatch(s):
            return _parse_legacy15(s)
        if _FOREIGN_OLD.fullmatch(s):
            return ParsedId(s, IdKind.FOREIGN_PERMANENT_OLD, None, None, None, None)
        raise InvalidIdError(
            "characters", "a 15-character number is 15 digits or 3 letters and 12 digits"
        )
    raise InvalidIdError("length", f"an identity number has 15 or 18 characters, not {len(s)}")


def is_valid(text: str) -> bool:
    try:
        parse_id(text)
    except InvalidIdError:
        return False
    return True


def make_resident_id(region_code: str, birth: date, sequence: int, sex: str) -> str:
    """Build a valid 18-digit number; the sequence's last digit is flipped to match ``sex``."""
    if not re.fullmatch(r"[0-9]{6}", region_code):
        raise ValueError("region code must be 6 digits")
    if not 0 <= sequence <= 999:
        raise ValueError("sequence must be between 0 and 999")
    if sex not in ("male", "female"):
        raise ValueError("sex must be 'male' or 'female'")
    if not 1000 <= birth.year <= 9999:
        raise ValueError("birth year must have four digits")
    if (sequence % 2 == 1) != (sex == "male"):
        sequence ^= 1  # 0<->1, 2<->3, ...: keeps the other digits and the range
    body = f"{region_code}{birth:%Y%m%d}{sequence:03d}"
    return body + check_digit(body)


def id_distance_kind(a: str, b: str) -> DistanceKind:
    """Classify two numbers as equal, one mistyped character, two swapped neighbours, or not.

    A 15-digit number is upgraded first; when either side was upgraded its check character is
    derived, not typed, so only the first 17 characters are compared.
    """
    x, x_derived = _comparable(a)
    y, y_derived = _comparable(b)
    if x_derived or y_derived:
        x, y = x[:17], y[:17]
    if len(x) != len(y):
        return "different"
    diffs = [i for i, (p, q) in enumerate(zip(x, y, strict=True)) if p != q]
    if not diffs:
        return "same"
    if len(diffs) == 1:
        return "one_digit"
    if len(diffs) == 2:
        i, j = diffs
        if j == i + 1 and x[i] == y[j] and x[j] == y[i]:
            return "transposition"
    return "different"


# --- internals ---------------------------------------------------------------------------


def _comparable(text: str) -> tuple[str, bool]:
    s = normalize_text(text)
    if _DIGITS_15.fullmatch(s):
        return upgrade_15_to_18(s), True
    return s, False


def _parse_18(s: str) -> ParsedId:
    body, check = s[:17], s[17]
    if not _DIGITS_17.fullmatch(body) or check not in "0123456789X":
        raise InvalidIdError("characters", "an 18-character number is 17 digits and a digit or X")
    region = body[:6]
    if s[0] == "9":
        kind = IdKind.FOREIGN_PERMANENT_NEW
    elif body[:6] in _PERMIT_REGIONS:
        kind = IdKind.HK_MACAU_TW_PERMIT
    elif body[:2] in _PROVINCES:
        kind = IdKind.RESIDENT
    else:
        raise InvalidIdError("region", "the address code is not a known province or permit code")
    foreign = kind is IdKind.FOREIGN_PERMANENT_NEW
    birth = _foreign_birth_date(body[6:14]) if foreign else _birth_date(body[6:14])
    if check_digit(body) != check:
        raise InvalidIdError("check_digit", "the check digit does not match")
    sequence = body[14:17]
    if foreign:
        return ParsedId(s, kind, None, birth, None, sequence)
    return ParsedId(s, kind, region, birth, _sex(sequence), sequence)


def _foreign_birth_date(yyyymmdd: str) -> date | None:
    # The 2023 foreigner number borrows GB 11643's layout (birth date in 7-14), but the
    # published adaptation rules only promise the leading 9 and the MOD 11-2 check, and do not
    # say the sequence encodes sex: read the birth date if it is one, never reject on it.
    try:
        return _birth_date(yyyymmdd)
    except InvalidIdError:
        return None


def _parse_legacy15(s: str) -> ParsedId:
    if s[:2] not in _PROVINCES:
        raise InvalidIdError("region", "the address code is not a known province")
    birth = _birth_date("19" + s[6:12])
    sequence = s[12:15]
    return ParsedId(upgrade_15_to_18(s), IdKind.LEGACY15, s[:6], birth, _sex(sequence), sequence)


def _birth_date(yyyymmdd: str) -> date:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        raise InvalidIdError("birth_date", "the birth date is not a calendar date") from None
    if not _EARLIEST_BIRTH <= born <= date.today():
        raise InvalidIdError("birth_date", "the birth date is out of range")
    return born


def _sex(sequence: str) -> Sex:
    return "male" if int(sequence[-1]) % 2 == 1 else "female"
