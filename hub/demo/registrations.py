"""The synthetic population as the facilities registered it: desk errors, with the ground truth.

Each resident of :func:`hub.demo.population.generate_residents` is registered at one to six
facilities, mostly near home (hospitals often; village clinics, township centres and
pharmacies too). Every registration is a :class:`SourceRecord`: the fields as the desk typed
them, plus truth that never goes into a facility's file (``person_key``, ``person``,
``errors``, ``hard_negative``, ``counterpart``). The desk errors and their rates are data
(:class:`ErrorRates`); homophones keep the toneless pinyin, mistyped numbers fail the check
digit or swap two neighbours. Hard non-matches are made on purpose: twins (same family name,
birth date, address and phone; consecutive ID sequences) and namesakes (the same full name,
born the same year in the same district). One ``seed`` always gives the same records, and
records are streamed: memory grows only with a set of issued ID numbers.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date

from hub.demo.facility_choice import FacilityPicker
from hub.demo.population import LAST_BIRTH_DATE, Resident, generate_residents
from hub.demo.registration_desk import RegistrationDesk, new_phone, renumber
from hub.demo.source_records import ErrorRates, HardNegative, SourceRecord
from hub.demo.weighted_draw import WeightedDraw
from hub.mpi.matching import make_resident_id
from hub.region.facilities import Facility, load_facilities

# Share of people registered at 1, 2, ... 6 facilities: a mean of about 2.5.
DEFAULT_RECORDS_PER_PERSON = (0.27, 0.30, 0.20, 0.12, 0.07, 0.04)
TWIN_SHARE = 0.015  # of people: a twin pair starts here
NAMESAKE_SHARE = 0.015  # of people: another person with the same name, year and district
_TWIN_NAMES = {  # given names for a twin when no recent name fits
    "male": "文 武 浩 然 子豪 子杰 俊杰 俊豪",
    "female": "欣 悦 雨婷 雨欣 思雨 思琪 佳佳",
}


def generate_registrations(
    people: int,
    *,
    seed: int = 0,
    facilities: list[Facility] | None = None,
    records_per_person: Sequence[float] = DEFAULT_RECORDS_PER_PERSON,
    rates: ErrorRates | None = None,
    twin_share: float = TWIN_SHARE,
    namesake_share: float = NAMESAKE_SHARE,
) -> Iterator[SourceRecord]:
    """Yield the registrations of ``people`` persons, person by person, deterministically."""
    if not records_per_person or min(records_per_person) < 0 or sum(records_per_person) <= 0:
        raise ValueError("records_per_person must be non-negative weights for 1, 2, ... visits")
    registered = facilities if facilities is not None else load_facilities()
    if len(registered) < len(records_per_person):
        raise ValueError("fewer facilities than the most visits a person can make")
    rng = random.Random(f"registrations/{seed}")
    picker = FacilityPicker(registered)
    desk = RegistrationDesk(rng, rates or ErrorRates())
    visits = WeightedDraw(range(1, len(records_per_person) + 1), records_per_person)
    for key, person, relation, counterpart in _persons(
        people, seed, rng, desk.homes, twin_share, namesake_share
    ):
        for facility in picker.pick(rng, person, visits.draw(rng)):
            yield desk.register(facility, key, person, relation, counterpart)


# --- people, twins and namesakes ------------------------------------------------------------


def _persons(
    people: int,
    seed: int,
    rng: random.Random,
    homes: dict[str, tuple[str, str, str]],
    twin_share: float,
    namesake_share: float,
) -> Iterator[tuple[int, Resident, str, int | None]]:
    issued: set[int] = set()  # first 17 digits of every ID handed out
    minted: set[int] = set()  # ... of the IDs made here (generate_residents cannot see them)
    recent_names: dict[tuple[int, str], str] = {}
    key = 0
    for resident in generate_residents(people, seed):
        if key >= people:
            return
        if int(resident.resident_id[:17]) in minted:
            sequences = [rng.randrange(2, 1000) for _ in range(200)]
            resident = replace(resident, resident_id=_mint(resident, sequences, issued))
        issued.add(int(resident.resident_id[:17]))
        roll = rng.random()
        era = (resident.birth_date.year // 10, resident.sex)
        other: Resident | None = None
        relation = ""
        if roll < twin_share and key + 1 < people:
            other, relation = _twin(rng, resident, recent_names, issued), HardNegative.TWIN
        elif roll < twin_share + namesake_share and key + 1 < people:
            home = homes.get(resident.district_code)
            other, relation = _namesake(rng, resident, home, issued), HardNegative.COMMON_NAME
        if other is None:
            yield key, resident, "", None
            key += 1
        else:
            minted.add(int(other.resident_id[:17]))
            yield key, resident, relation, key + 1
            yield key + 1, other, relation, key
            key += 2
        recent_names[era] = resident.given_name
        homes[resident.district_code] = (
            resident.township, resident.village_or_community, resident.address_line
        )  # fmt: skip


def _twin(
    rng: random.Random, a: Resident, recent: dict[tuple[int, str], str], issued: set[int]
) -> Resident:
    sex = a.sex if rng.random() < 0.65 else ("female" if a.sex == "male" else "male")
    given = recent.get((a.birth_date.year // 10, sex), a.given_name)
    if given == a.given_name:
        given = rng.choice([n for n in _TWIN_NAMES[sex].split() if n != a.given_name])
    base = int(a.resident_id[14:17])
    sequences = [base + d for step in range(1, 40) for d in (step, -step)]
    twin = replace(a, given_name=given, sex=sex, insurance_number=None)
    return replace(twin, resident_id=_mint(twin, sequences, issued))


def _namesake(
    rng: random.Random, a: Resident, home: tuple[str, str, str] | None, issued: set[int]
) -> Resident:
    first = date(a.birth_date.year, 1, 1).toordinal()
    last = min(date(a.birth_date.year, 12, 31), LAST_BIRTH_DATE).toordinal()
    birth = date.fromordinal(first + rng.randrange(last - first + 1))
    township, place, line = home or (a.township, a.village_or_community, a.address_line)
    b = replace(
        a,
        birth_date=birth,
        phone=new_phone(rng),
        township=township,
        village_or_community=place,
        address_line=renumber(rng, line),
        insurance_number=None,
        resident_id=a.district_code + a.resident_id[6:],  # region: where the namesake lives
    )
    return replace(b, resident_id=_mint(b, [rng.randrange(2, 1000) for _ in range(200)], issued))


def _mint(person: Resident, sequences: Sequence[int], issued: set[int]) -> str:
    """A valid ID for ``person`` (region from their current ID) not issued yet."""
    for sequence in [*sequences, *range(1000)]:
        if 0 <= sequence <= 999:
            candidate = make_resident_id(
                person.resident_id[:6], person.birth_date, sequence, person.sex
            )
            if int(candidate[:17]) not in issued:
                issued.add(int(candidate[:17]))
                return candidate
    raise RuntimeError("no free sequence number for this region and birth date")
