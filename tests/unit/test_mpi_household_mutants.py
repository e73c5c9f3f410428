"""Household ceilings at their bounds, found by mutation testing (scripts/mutate household).

Each test pins the cap of one comparison vector a surviving mutant decided otherwise: a
household linked into one person, or one person kept apart, by a level off by one.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.mpi.matching.compare import SPECS
from hub.mpi.matching.features import MatchFeatures
from hub.mpi.matching.household import best_first, capped, ceiling, decide, hanzi_names
from hub.mpi.matching.model import Decision
from hub.mpi.training.registry import packaged_model

NEW, REVIEW, LINK = Decision.NEW, Decision.REVIEW, Decision.LINK
# Everything agrees but no identifier: names, birth date, sex, phone, village.
AGREEING = {
    "resident_id": -1, "family_name": 4, "given_name": 4, "birth_date": 4, "sex": 1, "phone": 1,
    "address": 3, "insurance_number": -1, "other_id": -1, "postcode": -1, "house_number": -1,
    "address_parts": -1,
}  # fmt: skip


def cap(**levels: int) -> Decision:
    vector = AGREEING | levels
    return ceiling(tuple(vector[spec.name] for spec in SPECS))


def test_a_chinese_name_is_read_from_the_full_name_or_its_parts() -> None:
    assert hanzi_names(MatchFeatures(family="陈", given="凯波"), MatchFeatures(given="kaibo"))
    assert hanzi_names(MatchFeatures(full_name="陈凯波"), MatchFeatures(given="kaibo"))
    assert not hanzi_names(MatchFeatures(family="chen", given="kaibo"), MatchFeatures())


def test_the_given_name_rules_hold_by_default() -> None:
    assert cap(given_name=0, birth_date=2) is NEW


def test_one_id_and_a_homophone_given_name_far_apart_in_age_is_for_a_human() -> None:
    assert cap(resident_id=3, birth_date=0, given_name=3) is REVIEW
    assert cap(resident_id=3, birth_date=0, given_name=2) is NEW


def test_an_insurance_number_alone_lifts_every_cap() -> None:
    assert cap(insurance_number=1, given_name=0, birth_date=1) is LINK
    assert cap(other_id=2, given_name=0, birth_date=1) is LINK


def test_another_given_name_and_family_name_with_a_near_birth_date_is_left_to_the_weights() -> None:
    assert cap(family_name=0, given_name=0, birth_date=3) is LINK


def test_a_similar_given_name_with_a_near_birth_date_is_not_capped_alone() -> None:
    assert cap(given_name=1, birth_date=3, phone=0, address=0) is LINK
    assert cap(given_name=1, birth_date=2, phone=0, address=0) is REVIEW
    assert cap(given_name=1, birth_date=0, phone=0, address=0) is NEW


def test_a_homophone_family_name_counts_as_the_same_family() -> None:
    assert cap(family_name=3, given_name=0, birth_date=4) is NEW
    assert cap(family_name=4, given_name=0, birth_date=3) is NEW


def test_a_similar_given_name_in_one_family_needs_a_phone_or_a_village_in_common() -> None:
    assert cap(given_name=1, birth_date=4, phone=1, address=0) is REVIEW
    assert cap(given_name=1, birth_date=4, phone=0, address=3) is REVIEW
    assert cap(given_name=1, birth_date=4, phone=0, address=2) is LINK


def test_namesakes_at_one_address() -> None:
    assert cap(given_name=3, birth_date=1) is REVIEW  # a homophone is the same given name
    assert cap(family_name=0, given_name=4, birth_date=1) is LINK  # not namesakes


def test_namesakes_across_the_region_at_their_bounds() -> None:
    alone = {"phone": 0, "address": 0}
    assert cap(**alone) is REVIEW
    assert cap(**alone, birth_date=3) is REVIEW
    assert cap(**(alone | {"address": 2})) is LINK  # one township in common
    assert cap(**alone, resident_id=2) is LINK  # a mistyped ID that comes near


@dataclass(frozen=True)
class Candidate:
    probability: float
    weight: float
    ceiling: Decision


def test_the_model_decides_under_the_ceiling() -> None:
    model = packaged_model()
    assert decide(model, None) is NEW
    assert decide(model, Candidate(1.0, 30.0, REVIEW)) is REVIEW
    assert decide(model, Candidate(1.0, 30.0, LINK)) is LINK
    assert decide(model, Candidate(0.0, -30.0, LINK)) is NEW
    assert best_first(model, Candidate(1.0, 30.0, REVIEW)) == (1, 30.0)
    assert best_first(model, Candidate(1.0, 30.0, LINK)) == (2, 30.0)
    assert capped(LINK, REVIEW) is REVIEW and capped(NEW, LINK) is NEW
