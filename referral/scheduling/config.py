"""Booking configuration as data: session templates, release rule, hold length.

The packaged ``data/booking.json`` is the region's default; the rules are declarative so a
hospital's schedule is reviewed as a file, not as code. Pure: parsing only, no I/O beyond
reading the packaged file in :func:`load_booking_config`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import time
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_CONFIG = Path(__file__).with_name("data") / "booking.json"


class ServiceType(StrEnum):
    GENERAL = "general"  # 普通号
    EXPERT = "expert"  # 专家号
    SPECIAL_NEEDS = "special-needs"  # 特需号


@dataclass(frozen=True)
class Department:
    code: str
    display: str


@dataclass(frozen=True)
class SessionTemplate:
    """One recurring clinic session: on these ISO weekdays (1 = Monday), from start to end,
    cut into slots of ``slot_minutes``, each taking ``capacity`` patients of whom
    ``referral_reserved`` places are kept for referrals from lower tiers."""

    weekdays: frozenset[int]
    start: time
    end: time
    slot_minutes: int
    capacity: int
    service_type: ServiceType
    fee_class: str
    referral_reserved: int = 0

    def __post_init__(self) -> None:
        if not self.weekdays <= set(range(1, 8)):
            raise ValueError("weekdays are ISO weekday numbers, 1 (Monday) to 7")
        if self.slot_minutes <= 0 or self.start >= self.end:
            raise ValueError("a session needs a positive slot length and start before end")
        if self.capacity < 1 or not 0 <= self.referral_reserved <= self.capacity:
            raise ValueError("capacity must be at least 1 and hold the referral reservation")


@dataclass(frozen=True)
class BookingConfig:
    timezone: ZoneInfo
    release_days_ahead: int
    release_time: time
    hold_minutes: int
    departments: tuple[Department, ...]
    sessions: tuple[SessionTemplate, ...]


def parse_booking_config(data: dict[str, Any]) -> BookingConfig:
    return BookingConfig(
        timezone=ZoneInfo(str(data["timezone"])),
        release_days_ahead=int(data["release_days_ahead"]),
        release_time=time.fromisoformat(str(data["release_time"])),
        hold_minutes=int(data["hold_minutes"]),
        departments=tuple(
            Department(str(d["code"]), str(d["display"])) for d in data["departments"]
        ),
        sessions=tuple(
            SessionTemplate(
                weekdays=frozenset(int(w) for w in s["weekdays"]),
                start=time.fromisoformat(str(s["start"])),
                end=time.fromisoformat(str(s["end"])),
                slot_minutes=int(s["slot_minutes"]),
                capacity=int(s["capacity"]),
                service_type=ServiceType(str(s["service_type"])),
                fee_class=str(s["fee_class"]),
                referral_reserved=int(s.get("referral_reserved", 0)),
            )
            for s in data["sessions"]
        ),
    )


@cache
def load_booking_config(path: Path = DEFAULT_CONFIG) -> BookingConfig:
    return parse_booking_config(json.loads(path.read_text(encoding="utf-8")))
