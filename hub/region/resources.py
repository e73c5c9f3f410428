"""More resources seeded with each facility (the referral directory's departments).

Services register here from :mod:`hub.wiring`; :func:`hub.seeding.seed_region` writes what they
make after the facility's Organization and Location. A module of its own so the composition root
does not load the seeding code (and the demo's generators behind it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.region.facilities import Facility

FacilityResources = Callable[[Facility], list[dict[str, Any]]]
_FACILITY_RESOURCES: list[FacilityResources] = []


def add_facility_resources(make: FacilityResources) -> None:
    """Seed ``make(facility)`` with each facility, after its Organization and Location."""
    if make not in _FACILITY_RESOURCES:
        _FACILITY_RESOURCES.append(make)


def facility_resources(facility: Facility) -> list[dict[str, Any]]:
    """What every registered service adds for ``facility``."""
    return [resource for make in _FACILITY_RESOURCES for resource in make(facility)]
