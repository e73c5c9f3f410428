"""The booking core without a database: place decisions, release rule, slot templates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from referral.scheduling.capacity import (
    Action,
    Place,
    PlaceState,
    booking_limit,
    decide,
    unavailable,
)
from referral.scheduling.config import load_booking_config, parse_booking_config
from referral.scheduling.resources import (
    CAPACITY_EXTENSION,
    REFERRAL_RESERVED_EXTENSION,
    idempotency_key,
    patient_of,
    slot_capacity,
    slot_of,
)
from referral.scheduling.templates import plan_slots, release_moment, released_days

HELD = Place("s1", PlaceState.HELD)
BOOKED = Place("s1", PlaceState.BOOKED)
RELEASED = Place("s1", PlaceState.RELEASED)


@pytest.mark.parametrize(
    ("place", "status", "slot", "action"),
    [
        (None, "pending", "s1", Action.HOLD),
        (None, "booked", "s1", Action.BOOK),
        (None, "proposed", "s1", Action.NOTHING),
        (None, "booked", None, Action.NOTHING),
        (None, "cancelled", "s1", Action.NOTHING),
        (HELD, "booked", "s1", Action.CONFIRM),
        (HELD, "pending", "s1", Action.NOTHING),
        (BOOKED, "arrived", "s1", Action.NOTHING),
        (BOOKED, "cancelled", "s1", Action.RELEASE),
        (BOOKED, "noshow", "s1", Action.RELEASE),
        (BOOKED, None, "s1", Action.RELEASE),  # deleted
        (HELD, "cancelled", "s1", Action.RELEASE),
        (RELEASED, "cancelled", "s1", Action.NOTHING),  # released once, never twice
        (RELEASED, "booked", "s1", Action.REFUSE),
        (Place("s1", PlaceState.LAPSED), "booked", "s1", Action.REFUSE),  # hold expired
        (Place("s1", PlaceState.LAPSED), "cancelled", "s1", Action.NOTHING),
        (BOOKED, "booked", "s2", Action.MOVE),
        (BOOKED, "proposed", "s1", Action.RELEASE),
    ],
)
def test_decide(place: Place | None, status: str | None, slot: str | None, action: Action) -> None:
    assert decide(place, status, slot) is action


def test_referral_share_is_kept_from_general_bookings() -> None:
    assert booking_limit(4, 1, referral=False) == 3
    assert booking_limit(4, 1, referral=True) == 4


def test_days_are_released_at_the_configured_time() -> None:
    config = load_booking_config()  # 7 days ahead at 07:00 Asia/Shanghai
    day = date(2027, 3, 10)
    opens = release_moment(day, config)
    assert opens == datetime(2027, 3, 3, 7, 0, tzinfo=config.timezone)
    before = opens.replace(minute=0, hour=6).astimezone(UTC)
    assert day not in released_days(before, config, 7)
    assert day in released_days(opens, config, 7)
    assert released_days(opens, config, 7)[0] == date(2027, 3, 3)


def test_templates_cut_sessions_into_slots() -> None:
    config = parse_booking_config(
        {
            "timezone": "Asia/Shanghai",
            "release_days_ahead": 1,
            "release_time": "07:00",
            "hold_minutes": 5,
            "departments": [{"code": "dept", "display": "内科"}],
            "sessions": [
                {"weekdays": [3], "start": "08:00", "end": "09:15", "slot_minutes": 30,
                 "capacity": 3, "service_type": "expert", "fee_class": "expert",
                 "referral_reserved": 1},
            ],
        }
    )  # fmt: skip
    wednesday, thursday = date(2027, 3, 10), date(2027, 3, 11)
    plans = list(plan_slots(["H001"], [wednesday, thursday], config))
    assert [p.start.time() for p in plans] == [time(8, 0), time(8, 30)]  # 09:00 would overrun
    assert {(p.capacity, p.referral_reserved, p.service_type.value) for p in plans} == {
        (3, 1, "expert")
    }
    assert plans[0].slot_id == "H001-dept-expert-202703100800"
    assert len({p.slot_id for p in plans}) == 2


def test_a_session_must_hold_its_reservation() -> None:
    with pytest.raises(ValueError, match="capacity"):
        parse_booking_config(
            {
                "timezone": "UTC", "release_days_ahead": 1, "release_time": "07:00",
                "hold_minutes": 5, "departments": [],
                "sessions": [{"weekdays": [1], "start": "08:00", "end": "09:00",
                              "slot_minutes": 30, "capacity": 1, "service_type": "general",
                              "fee_class": "x", "referral_reserved": 2}],
            }
        )  # fmt: skip


def test_resource_readers() -> None:
    appointment = {
        "id": "a1",
        "slot": [{"reference": "Slot/s1"}],
        "participant": [
            {"actor": {"reference": "Organization/H001"}},
            {"actor": {"reference": "Patient/p1"}},
        ],
        "identifier": [{"system": "urn:app", "value": "42"}],
    }
    assert slot_of(appointment) == "s1"
    assert slot_of({"slot": [{"reference": "Slot/a"}, {"reference": "Slot/b"}]}) is None
    assert patient_of(appointment) == "p1"
    assert idempotency_key(appointment) == "urn:app|42"
    assert slot_capacity({}) == (1, 0)
    slot = {
        "extension": [
            {"url": CAPACITY_EXTENSION, "valuePositiveInt": 4},
            {"url": REFERRAL_RESERVED_EXTENSION, "valueUnsignedInt": 5},  # more than capacity
        ]
    }
    assert slot_capacity(slot) == (4, 0)


def test_why_a_new_place_is_refused_before_any_write() -> None:
    now = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
    later = now + timedelta(hours=2)
    # capacity 4, 1 reserved for referrals: three ordinary places, the fourth for a referral
    assert unavailable(later, 4, 1, 2, referral=False, now=now) is None
    assert unavailable(later, 4, 1, 3, referral=False, now=now) == "slot-referral-only"
    assert unavailable(later, 4, 1, 3, referral=True, now=now) is None
    # no place left at all: full, even for a slot with a referral share
    assert unavailable(later, 4, 1, 4, referral=False, now=now) == "slot-full"
    assert unavailable(later, 4, 1, 4, referral=True, now=now) == "slot-full"
    assert unavailable(now, 4, 1, 0, referral=False, now=now) == "slot-past"
