"""The referral directory (departments as HealthcareServices) and the tier rules."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hub.region.facilities import load_facilities
from hub.region.facility_fhir import facility_to_organization
from referral.directory import healthcare_services, intake_of, load_catalogue
from referral.tiers import (
    Direction,
    Rule,
    TierRules,
    check_referral,
    direction,
    load_tier_rules,
    tier_key,
)

RULES = load_tier_rules()
FACILITIES = load_facilities()


def test_every_hospital_gets_its_levels_departments_deterministically() -> None:
    hospitals = [f for f in FACILITIES if f.kind == "hospital"]
    assert len(hospitals) == 127
    services = [s for f in hospitals for s in healthcare_services(f)]
    assert len({s["id"] for s in services}) == len(services)
    assert services == [s for f in hospitals for s in healthcare_services(f)]
    catalogue = load_catalogue()
    top = next(f for f in hospitals if f.level == "三级")
    assert len(healthcare_services(top)) == len(catalogue.levels["三级"])


def test_non_hospitals_have_no_departments() -> None:
    assert all(not healthcare_services(f) for f in FACILITIES if f.kind != "hospital")


def test_a_service_reads_back_its_intake() -> None:
    top = next(f for f in FACILITIES if f.level == "三级")
    by_code = {s["id"].removeprefix(f"{top.code}-"): intake_of(s) for s in healthcare_services(top)}
    assert by_code["cardiology"].accepts_referrals
    assert by_code["cardiology"].provider == f"Organization/{top.code}"
    assert "394579002" in by_code["cardiology"].specialties
    assert by_code["oncology"].hospital_referrals_only
    assert not by_code["rehabilitation"].accepts_referrals


def test_tier_keys_come_from_the_organization() -> None:
    keys = {tier_key(facility_to_organization(f)) for f in FACILITIES}
    assert {"village_clinic", "township_center", "hospital-1", "hospital-2", "hospital-3"} <= keys
    assert tier_key({}) is None


def test_a_village_clinic_cannot_skip_to_a_top_tier_hospital() -> None:
    refusal = check_referral(RULES, "village_clinic", "hospital-3")
    assert refusal is not None and refusal.rule is Rule.UPWARD_FROM_TIER
    assert RULES.version in refusal.message
    assert check_referral(RULES, "township_center", "hospital-3") is None
    assert check_referral(RULES, "village_clinic", "hospital-2") is None


def test_departments_that_take_hospital_referrals_only() -> None:
    refusal = check_referral(RULES, "community_center", "hospital-3", hospital_referrals_only=True)
    assert refusal is not None and refusal.rule is Rule.HOSPITAL_REFERRALS_ONLY
    assert check_referral(RULES, "hospital-2", "hospital-3", hospital_referrals_only=True) is None


def test_closed_departments_pharmacies_and_low_lateral_moves_are_refused() -> None:
    closed = check_referral(RULES, "hospital-2", "hospital-3", accepts_referrals=False)
    assert closed is not None and closed.rule is Rule.ACCEPTS_REFERRALS
    pharmacy = check_referral(RULES, "pharmacy", "hospital-2")
    assert pharmacy is not None and pharmacy.rule is Rule.CARE_PROVIDERS
    lateral = check_referral(RULES, "township_center", "hospital-1")
    assert lateral is not None and lateral.rule is Rule.LATERAL
    assert check_referral(RULES, "hospital-3", "hospital-3") is None


def test_downward_referrals_are_always_allowed() -> None:
    for source in ("hospital-3", "hospital-2", "hospital-1"):
        assert check_referral(RULES, source, "village_clinic") is None


def test_the_rules_are_data() -> None:
    strict = TierRules(version="t", tiers={"a": 0, "b": 1}, upward_min_source_tier={1: 1})
    refusal = check_referral(strict, "a", "b")
    assert refusal is not None and "(tier rules t)" in refusal.message


@given(st.integers(0, 3), st.integers(0, 3))
def test_direction_is_by_tier(source: int, target: int) -> None:
    way = direction(source, target)
    assert (way is Direction.UP) == (target > source)
    assert (way is Direction.DOWN) == (target < source)
