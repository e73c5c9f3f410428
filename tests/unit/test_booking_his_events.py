"""Which SIU the hospital gets for a booking change, and what it may report back (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from referral.scheduling.his_events import only_status_changed, reported_status, siu_event

BOOKED: dict[str, Any] = {
    "status": "booked",
    "start": "2027-01-04T08:00:00+08:00",
    "slot": [{"reference": "Slot/a"}],
}


@pytest.mark.parametrize(
    ("previous", "current", "deleted", "expected"),
    [
        (None, BOOKED, False, "S12"),
        ({**BOOKED, "status": "pending"}, BOOKED, False, "S12"),  # a hold confirmed
        (BOOKED, {**BOOKED, "start": "2027-01-04T09:00:00+08:00"}, False, "S13"),
        (BOOKED, {**BOOKED, "slot": [{"reference": "Slot/b"}]}, False, "S13"),
        (BOOKED, {**BOOKED, "description": "二楼"}, False, "S14"),
        (BOOKED, {**BOOKED, "status": "cancelled"}, False, "S15"),
        (None, BOOKED, True, "S17"),
        (None, {**BOOKED, "status": "pending"}, False, None),  # holds stay in the hub
        (BOOKED, {**BOOKED, "status": "arrived"}, False, None),  # the hospital's own report
        (None, {**BOOKED, "status": "cancelled"}, True, None),
    ],
)
def test_siu_event(
    previous: dict[str, Any] | None, current: dict[str, Any], deleted: bool, expected: str | None
) -> None:
    assert siu_event(previous, current, deleted=deleted) == expected


@pytest.mark.parametrize(
    ("event", "filler_status", "expected"),
    [("S14", "Started", "arrived"), ("S14", "Complete", "fulfilled"),
     ("S14", "Noshow", "noshow"), ("S26", "", "noshow"), ("S14", "Booked", None),
     ("S14", "Cancelled", None), ("S15", "Cancelled", None), ("S12", "Started", None)],
)  # fmt: skip
def test_reported_status(event: str, filler_status: str, expected: str | None) -> None:
    assert reported_status(event, filler_status) == expected


def test_only_status_changed() -> None:
    arrived = {**BOOKED, "status": "arrived", "meta": {"versionId": "2"}}
    assert only_status_changed(BOOKED, arrived)
    assert not only_status_changed(BOOKED, {**arrived, "start": "2027-01-05T08:00:00+08:00"})
    assert not only_status_changed(BOOKED, {**arrived, "participant": []})
