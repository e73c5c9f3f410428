"""A synthetic registration as a facility's desk recorded it, with the truth kept beside it.

The desk errors and their rates are data (:class:`ErrorRates`); :class:`SourceRecord` carries the
fields as typed plus truth that never goes into a facility's file (``person_key``, ``person``,
``errors``, ``hard_negative``, ``counterpart``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hub.demo.population import Resident


class DeskError(StrEnum):
    HOMOPHONE_FAMILY = "homophone_family"
    HOMOPHONE_GIVEN = "homophone_given"
    TRADITIONAL = "traditional"
    ROMANISED = "romanised"
    ID_MISSING = "id_missing"
    ID_ONE_DIGIT = "id_one_digit"
    ID_TRANSPOSED = "id_transposed"
    ID_LEGACY15 = "id_legacy15"
    BIRTH_DAY_MONTH_SWAPPED = "birth_day_month_swapped"
    BIRTH_OFF_BY_ONE = "birth_off_by_one"
    BIRTH_COMPACT = "birth_compact"
    GENDER_WRONG = "gender_wrong"
    PHONE_CHANGED = "phone_changed"
    PHONE_MISSING = "phone_missing"
    ADDRESS_TOWNSHIP_ONLY = "address_township_only"
    ADDRESS_ABBREVIATED = "address_abbreviated"
    ADDRESS_MOVED = "address_moved"
    WHITESPACE = "whitespace"


class HardNegative(StrEnum):
    TWIN = "twin"
    COMMON_NAME = "common_name"


@dataclass(frozen=True)
class ErrorRates:
    """Probability of each desk error per registration (where it can apply at all)."""

    homophone: float = 0.04  # one character of the family or given name
    traditional: float = 0.015  # the name typed in traditional characters
    romanised_foreign_desk: float = 0.40  # at foreign-facing desks (see ``foreign_facing``)
    romanised_other: float = 0.002
    id_missing_primary: float = 0.15  # village clinics and pharmacies
    id_missing_other: float = 0.02
    id_one_digit: float = 0.015
    id_transposed: float = 0.008
    id_legacy15_old: float = 0.15  # people born before 1960: the first-generation number
    birth_day_month_swapped: float = 0.04  # only when the day is 12 or less (and not the month)
    birth_off_by_one: float = 0.008
    birth_compact: float = 0.03  # YYYYMMDD
    gender_wrong: float = 0.003
    phone_missing: float = 0.04
    phone_changed: float = 0.05
    address_township_only: float = 0.03
    address_abbreviated: float = 0.03
    address_moved: float = 0.03  # to another house in the same district
    whitespace: float = 0.03


@dataclass(frozen=True, slots=True)
class SourceRecord:
    facility_code: str
    source_id: str  # the facility's local patient number
    person_key: int  # truth: who this is (never in the facility's file)
    name: str
    family_name: str
    given_name: str
    gender: str
    birth_date: str
    id_system: str
    id_number: str
    phone: str
    address: str
    postal_code: str
    errors: tuple[str, ...]  # truth: the desk errors applied
    person: Resident  # truth: the person as they are
    hard_negative: str = ""  # truth: HardNegative value if a look-alike person exists
    counterpart: int | None = None  # truth: the look-alike's person key


def person_id(person_key: int) -> str:
    """The stable synthetic person id written to the truth file, e.g. ``P0000123``."""
    return f"P{person_key:07d}"
