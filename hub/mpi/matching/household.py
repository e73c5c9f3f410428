"""What a pair's comparison may decide at most, whatever its weight (pure).

Fellegi-Sunter adds evidence: family name, birth date, phone and address agreeing outweigh a
given name that disagrees. In a household that sum is wrong -- twins and siblings share exactly
those, and a child is registered under a parent's phone -- so some patterns cap the decision
that the weight alone would make (``ceiling``); the model's thresholds still decide below the
cap:

- two different valid resident IDs: never the same person (also per person, across records
  without an ID: ``hub.mpi.registration.id_veto``);
- **a household, not a person**: family name and birth date agree but the given names are
  clearly different -> a new person; so are another given name with another birth date (parent
  and child, siblings) whatever else agrees; one resident ID with birth dates far apart and
  given names that differ (a parent's ID typed on a newborn's record) -> a new person, with the
  same name -> review at most; merely similar given names (one
  character apart, not a homophone) with a shared phone or address -> review at most;
- **namesakes at one address**: the same full name and address with a birth date that is not a
  near miss (a different day, month or year, not a typo) -> review at most;
- **namesakes across the region**: name, birth date and sex agree with no identifier, phone or
  address in common (for a Chinese name, an address left out on either side counts as none in
  common) -> review at most (common names share birth dates among four million).

An identifier that agrees exactly (resident ID, insurance number, another shared registry
number) lifts every cap: it is the one evidence twins never share. The given-name rules hold
for Chinese names only (:func:`hanzi_names`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from hub.mpi.matching.addresses import is_chinese_address
from hub.mpi.matching.compare import SPECS
from hub.mpi.matching.features import MatchFeatures
from hub.mpi.matching.model import Decision, MatchModel

_AT = {spec.name: index for index, spec in enumerate(SPECS)}
_RANK = {Decision.NEW: 0, Decision.REVIEW: 1, Decision.LINK: 2}

# Levels, as in hub.mpi.matching.compare.SPECS (-1: missing on either side).
ID_DIFFERENT_VALID, ID_NEAR, ID_EXACT = 0, 2, 3
MISSING = -1
NAME_DIFFERENT, NAME_SIMILAR, NAME_PARTIAL, NAME_HOMOPHONE = 0, 1, 2, 3
BIRTH_DIFFERENT, BIRTH_NEAR = 0, 3  # near: a day apart, day/month swapped, one digit mistyped
SAME = 1  # phone, insurance number
ADDRESS_TOWNSHIP, ADDRESS_VILLAGE = 2, 3
# Not "near": a facility numbers its patients in sequence, so two people's numbers in one
# facility's system are often one character apart.
OTHER_ID_EXACT = 2


def hanzi_names(a: MatchFeatures, b: MatchFeatures) -> bool:
    """Whether the pair is about a Chinese name (either record writes it in Hanzi; the other
    may romanise it), where the given-name rules hold: siblings get distinct given names and
    desk errors keep the sound (homophones), so a given name that disagrees outright means
    another person. Western names disagree through typos, nicknames and swapped fields, where
    that evidence stays with the weights."""
    return any(is_chinese_address(f.full_name or f"{f.family}{f.given}") for f in (a, b))


def ceiling(levels: Sequence[int], *, hanzi: bool = True) -> Decision:
    """The highest decision the comparison vector ``levels`` allows (LINK: no cap);
    ``hanzi``: whether both names are written in Hanzi (:func:`hanzi_names`)."""

    def level(name: str) -> int:
        return levels[_AT[name]]

    family, given, birth = level("family_name"), level("given_name"), level("birth_date")
    if level("resident_id") == ID_DIFFERENT_VALID:
        return Decision.NEW
    if level("resident_id") == ID_EXACT and birth == BIRTH_DIFFERENT:
        # One ID, two birth dates far apart: a parent's ID typed on a child's record
        # (a newborn registered as 王芳之子). With another given name as well it is the
        # parent and the child; with the same name, perhaps one person's lunar birthday.
        if hanzi and NAME_DIFFERENT <= given < NAME_HOMOPHONE:
            return Decision.NEW
        return Decision.REVIEW
    if (
        level("resident_id") == ID_EXACT
        or level("insurance_number") == SAME
        or level("other_id") == OTHER_ID_EXACT
    ):
        return Decision.LINK
    if hanzi and given == NAME_DIFFERENT:
        # Another given name: with another birth date a relative sharing the family's phone
        # and address (parent and child, siblings), whatever the rest agrees on; without a
        # birth date to tell, a human decides.
        if birth == MISSING:
            return Decision.REVIEW
        if birth < BIRTH_NEAR:
            return Decision.NEW
    if hanzi and given in (NAME_SIMILAR, NAME_PARTIAL) and 0 <= birth < BIRTH_NEAR:
        # 陈丹艳 / 陈丹艳之女: a newborn registered under the mother's name, or a relative
        # with a name one character apart; far apart in age they are two people.
        return Decision.NEW if birth == BIRTH_DIFFERENT else Decision.REVIEW
    shared_phone = level("phone") == SAME
    address = level("address")
    same_family = family >= NAME_HOMOPHONE
    same_given = given >= NAME_HOMOPHONE
    if hanzi and same_family and birth >= BIRTH_NEAR:
        if given == NAME_DIFFERENT:
            return Decision.NEW
        if given == NAME_SIMILAR and (shared_phone or address >= ADDRESS_VILLAGE):
            return Decision.REVIEW
    if same_family and same_given:
        if address >= ADDRESS_VILLAGE and 0 <= birth < BIRTH_NEAR:
            return Decision.REVIEW
        # Namesakes: a Chinese address left out counts as nothing in common (王小明 1990-01-01
        # with no ID, phone or address is many people); a Latin one is graded in parts
        # elsewhere, so only a Chinese pair's missing address is read that way.
        no_address_in_common = 0 <= address < ADDRESS_TOWNSHIP or (hanzi and address == MISSING)
        if (
            birth >= BIRTH_NEAR
            and level("sex") != 0
            and not shared_phone
            and no_address_in_common
            and level("resident_id") < ID_NEAR
        ):
            return Decision.REVIEW
    return Decision.LINK


def ceilings(levels: NDArray[np.int8], hanzi: NDArray[np.bool_]) -> NDArray[np.int8]:
    """:func:`ceiling` of every row of ``levels`` (m, k), as ranks (0 NEW, 1 REVIEW, 2 LINK):
    the same rules in the same order, each deciding the rows no earlier rule decided."""
    new, review, link = _RANK[Decision.NEW], _RANK[Decision.REVIEW], _RANK[Decision.LINK]
    cap = np.full(len(levels), link, dtype=np.int8)
    open_rows = np.ones(len(levels), dtype=bool)

    def decide(rows: NDArray[np.bool_], rank: int) -> None:
        chosen = open_rows & rows
        cap[chosen] = rank
        open_rows[chosen] = False

    def level(name: str) -> NDArray[np.int8]:
        return levels[:, _AT[name]]

    resident_id, family, given = level("resident_id"), level("family_name"), level("given_name")
    birth, address, shared_phone = level("birth_date"), level("address"), level("phone") == SAME
    decide(resident_id == ID_DIFFERENT_VALID, new)
    parent_id = (resident_id == ID_EXACT) & (birth == BIRTH_DIFFERENT)
    decide(parent_id & hanzi & (given >= NAME_DIFFERENT) & (given < NAME_HOMOPHONE), new)
    decide(parent_id, review)
    agreed_id = (resident_id == ID_EXACT) | (level("insurance_number") == SAME)
    decide(agreed_id | (level("other_id") == OTHER_ID_EXACT), link)
    other_given = hanzi & (given == NAME_DIFFERENT)
    decide(other_given & (birth == MISSING), review)
    decide(other_given & (birth < BIRTH_NEAR), new)
    near_given = hanzi & ((given == NAME_SIMILAR) | (given == NAME_PARTIAL))
    near_given &= (birth >= 0) & (birth < BIRTH_NEAR)
    decide(near_given & (birth == BIRTH_DIFFERENT), new)
    decide(near_given, review)
    same_family, same_given = family >= NAME_HOMOPHONE, given >= NAME_HOMOPHONE
    household = hanzi & same_family & (birth >= BIRTH_NEAR)
    decide(household & (given == NAME_DIFFERENT), new)
    decide(household & (given == NAME_SIMILAR) & (shared_phone | (address >= ADDRESS_VILLAGE)),
           review)  # fmt: skip
    namesake = same_family & same_given
    decide(namesake & (address >= ADDRESS_VILLAGE) & (birth >= 0) & (birth < BIRTH_NEAR), review)
    no_address = ((address >= 0) & (address < ADDRESS_TOWNSHIP)) | (hanzi & (address == MISSING))
    decide(namesake & (birth >= BIRTH_NEAR) & (level("sex") != 0) & ~shared_phone & no_address
           & (resident_id < ID_NEAR), review)  # fmt: skip
    return cap


class Capped(Protocol):
    """A scored candidate: its match probability, weight and ceiling."""

    @property
    def probability(self) -> float: ...
    @property
    def weight(self) -> float: ...
    @property
    def ceiling(self) -> Decision: ...


def decide(model: MatchModel, candidate: Capped | None) -> Decision:
    """The model's decision for a candidate under its ceiling (NEW without one)."""
    if candidate is None:
        return Decision.NEW
    return capped(model.decide(candidate.probability), candidate.ceiling)


def best_first(model: MatchModel, candidate: Capped) -> tuple[int, float]:
    """Sort key: the highest decision allowed, then the highest weight."""
    return _RANK[decide(model, candidate)], candidate.weight


def capped(decision: Decision, cap: Decision) -> Decision:
    """``decision`` lowered to ``cap`` when it would go above it."""
    return decision if _RANK[decision] <= _RANK[cap] else cap
