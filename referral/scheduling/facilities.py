"""Which facilities take bookings: the region's hospitals, tertiary ones first."""

from __future__ import annotations

from hub.region.facilities import FacilityKind, load_facilities

TERTIARY = "三级"


def bookable_facilities(*, tertiary_only: bool = False, limit: int | None = None) -> list[str]:
    hospitals = [
        f
        for f in load_facilities()
        if f.kind is FacilityKind.HOSPITAL and (f.level == TERTIARY or not tertiary_only)
    ]
    hospitals.sort(key=lambda f: (f.level != TERTIARY, f.code))
    codes = [f.code for f in hospitals]
    return codes[:limit] if limit is not None else codes
