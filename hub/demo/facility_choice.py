"""Where a synthetic resident registers: mostly near home, the city's big hospitals from anywhere.

Kinds of facility are drawn with urban and rural weights; within a kind, hospitals weigh by level.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from hub.demo.population import DISTRICTS, Resident
from hub.demo.weighted_draw import WeightedDraw
from hub.region.facilities import Facility, FacilityKind

_URBAN_KINDS = {FacilityKind.HOSPITAL: 0.50, FacilityKind.COMMUNITY_CENTER: 0.12,
                FacilityKind.COMMUNITY_STATION: 0.13, FacilityKind.TOWNSHIP_CENTER: 0.02,
                FacilityKind.VILLAGE_CLINIC: 0.01, FacilityKind.PHARMACY: 0.22}  # fmt: skip
_RURAL_KINDS = {FacilityKind.HOSPITAL: 0.42, FacilityKind.COMMUNITY_CENTER: 0.02,
                FacilityKind.COMMUNITY_STATION: 0.02, FacilityKind.TOWNSHIP_CENTER: 0.20,
                FacilityKind.VILLAGE_CLINIC: 0.20, FacilityKind.PHARMACY: 0.14}  # fmt: skip
_HOSPITAL_WEIGHT = {"三级": 6.0, "二级": 4.0, "一级": 1.0}


class FacilityPicker:
    """Draw distinct facilities for a person: mostly near home, big hospitals from anywhere."""

    def __init__(self, facilities: Sequence[Facility]) -> None:
        towns = {d.code: d.townships for d in DISTRICTS}
        groups: dict[tuple[str, ...], list[Facility]] = {}
        for f in facilities:
            groups.setdefault((f.kind, f.district_code), []).append(f)
            groups.setdefault((f.kind,), []).append(f)
            groups.setdefault((), []).append(f)
            town = next((t for t in towns.get(f.district_code, ()) if f.address.startswith(t)), "")
            if town:
                groups.setdefault((f.kind, f.district_code, town), []).append(f)
            if (f.level, f.grade) == ("三级", "甲"):  # the city's big hospitals
                groups.setdefault(("city",), []).append(f)
        self.groups = {
            key: WeightedDraw(fs, [_weight(f) for f in fs]) for key, fs in groups.items()
        }
        self.urban = WeightedDraw(list(_URBAN_KINDS), list(_URBAN_KINDS.values()))
        self.rural = WeightedDraw(list(_RURAL_KINDS), list(_RURAL_KINDS.values()))

    def pick(self, rng: random.Random, person: Resident, count: int) -> list[Facility]:
        kinds = self.urban if person.village_or_community.endswith("社区") else self.rural
        chosen: dict[str, Facility] = {}
        for _ in range(count * 4):
            facility = self._one(rng, person, kinds.draw(rng))
            chosen[facility.code] = facility
            if len(chosen) == count:
                break
        return list(chosen.values())

    def _one(self, rng: random.Random, person: Resident, kind: FacilityKind) -> Facility:
        district, hospital = person.district_code, kind is FacilityKind.HOSPITAL
        near: tuple[str, ...] = ("city",) if hospital else (kind, district, person.township)
        first = [near] if rng.random() < (0.3 if hospital else 0.75) else []
        for key in [*first, (kind, district), (kind,), (FacilityKind.HOSPITAL, district), ()]:
            group = self.groups.get(key)
            if group is not None:
                return group.draw(rng)
        raise ValueError("no facilities to register at")


def _weight(facility: Facility) -> float:
    return _HOSPITAL_WEIGHT.get(facility.level or "", 1.0)
