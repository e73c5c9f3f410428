"""What an Appointment write does to its slot's places: pure decisions, no I/O.

An Appointment takes a place while it is ``pending`` (a hold, which lapses at its expiry) or
``booked`` (and stays so as it becomes ``arrived``, ``checked-in`` or ``fulfilled``); it gives
the place back, exactly once, when it becomes ``cancelled``, ``noshow`` or
``entered-in-error`` or is deleted. ``proposed`` and ``waitlist`` take nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

HOLDING = frozenset({"pending"})
KEEPING = frozenset({"booked", "arrived", "checked-in", "fulfilled"})
RELEASING = frozenset({"cancelled", "noshow", "entered-in-error"})


class PlaceState(StrEnum):
    HELD = "held"
    BOOKED = "booked"
    LAPSED = "lapsed"  # a hold past its expiry, place given back; its Appointment not yet told
    RELEASED = "released"


class Action(StrEnum):
    NOTHING = "nothing"
    HOLD = "hold"  # take a place with an expiry
    BOOK = "book"  # take a place for good
    CONFIRM = "confirm"  # turn this appointment's hold into a booking (if not lapsed)
    RELEASE = "release"  # give the place back
    MOVE = "move"  # reschedule: give the old place back, take one in the new slot
    REFUSE = "refuse"  # its place was given back (cancelled, hold lapsed): book anew


@dataclass(frozen=True)
class Place:
    """What the ledger holds for one appointment."""

    slot_id: str
    state: PlaceState


def decide(place: Place | None, status: str | None, slot_id: str | None) -> Action:
    """The ledger action for an Appointment now at ``status`` referring to ``slot_id``
    (``status`` None: deleted), given the place it holds so far (None: none ever)."""
    active = place is not None and place.state in (PlaceState.HELD, PlaceState.BOOKED)
    if status is None or status in RELEASING:
        return Action.RELEASE if active else Action.NOTHING
    if slot_id is None or (status not in HOLDING and status not in KEEPING):
        return Action.RELEASE if active else Action.NOTHING
    if place is None:
        return Action.HOLD if status in HOLDING else Action.BOOK
    if not active:
        # A place once given back is not taken again by the same appointment: book anew.
        return Action.REFUSE
    if place.slot_id != slot_id:
        return Action.MOVE
    if place.state is PlaceState.HELD and status in KEEPING:
        return Action.CONFIRM
    return Action.NOTHING


def hold_expiry(now: datetime, hold_minutes: int) -> datetime:
    return now + timedelta(minutes=hold_minutes)


def booking_limit(capacity: int, reserved: int, referral: bool) -> int:
    """Places a booking may fill up to: referrals may take the reserved share, others not."""
    return capacity if referral else capacity - reserved


def unavailable(
    start: datetime,
    capacity: int,
    reserved: int,
    taken: int,
    *,
    referral: bool,
    now: datetime,
) -> str | None:
    """Why a new place in a slot is refused (a reason code), or None while one is free for this
    kind of booking; ``taken`` counts the slot's active places, lapsed holds not included."""
    if start <= now:
        return "slot-past"
    if taken < booking_limit(capacity, reserved, referral):
        return None
    return "slot-referral-only" if taken < capacity else "slot-full"
