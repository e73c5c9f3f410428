"""The claims-audit rules, one worked example each way per rule, and Hypothesis properties
(no duplicate in, no duplicate-charge finding out; a planted duplicate is always found; keys are
stable)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from insurance.claims_audit.codes import RuleCode
from insurance.claims_audit.engine import AuditNotConfigured, run_rules
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.params import Sex
from insurance.claims_audit.view import AuditData, Claim, Dispense, Encounter, Line, Person
from insurance.policy import load_policy

POLICY = load_policy().on(date(2026, 3, 1))
DAY = date(2026, 3, 1)
CONSULT, CBC, CT, PACKAGE = (
    "001102000000100",
    "002701000000100",
    "002703000000200",
    "003101000000300",
)
BED, NURSING = "001103000000100", "001201000000200"
AMOXICILLIN, ENALAPRIL, METFORMIN = (
    "XJ01CAA040A001010100001",
    "XC09AAE056A001010100002",
    "XA10BAD001A001010100003",
)
INFUSION_SET, FILLER = "C0202020010100500009", "C0401010030100500011"
PSA, CYTOLOGY, TUINA = "002705000000100", "002705000000200", "004101000000100"


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def line(seq: int, code: str, *, qty: int = 1, price: int = 1000, day: date = DAY,
         enc: str | None = "E1", fund: int = 0) -> Line:  # fmt: skip
    return Line(seq, code, qty, price, day, fund_fen=fund, encounter=enc)


def claim(cid: str, *lines: Line, person: str = "P1", facility: str = "H001") -> Claim:
    return Claim(cid, person, facility, lines[0].service_date, tuple(lines))


def visit(eid: str = "E1", *, person: str = "P1", facility: str = "H001", day: date = DAY,
          hours: int = 1) -> Encounter:  # fmt: skip
    return Encounter(eid, person, facility, at(day), at(day) + timedelta(hours=hours))


def stay(eid: str, start: date, end: date | None, dx: str = "J18", *, facility: str = "H001",
         person: str = "P1") -> Encounter:  # fmt: skip
    return Encounter(eid, person, facility, at(start), at(end, 11) if end else None, True, dx)


def dispense(did: str, code: str, *, days: int | None = 5, enc: str | None = "E1",
             facility: str = "H001", day: date = DAY, person: str = "P1") -> Dispense:  # fmt: skip
    return Dispense(did, person, facility, code, 10, day, days, enc)


def rule(code: RuleCode, data: AuditData) -> list[Finding]:
    return run_rules(data, POLICY, only=[code])


# -- duplicate-charge ------------------------------------------------------------------------


def test_same_item_twice_for_one_encounter_and_day() -> None:
    data = AuditData(
        claims=(claim("C1", line(1, CBC, price=2000)), claim("C2", line(1, CBC, price=2000))),
        encounters=(visit(),),
    )
    [found] = rule(RuleCode.DUPLICATE_CHARGE, data)
    assert found.claims == ("C1", "C2") and found.encounters == ("E1",)
    assert found.amount_fen == 2000  # the second charge, not the first
    assert CBC in found.detail


def test_repeatable_items_and_other_days_are_not_duplicates() -> None:
    data = AuditData(
        claims=(
            claim("C1", line(1, INFUSION_SET), line(2, INFUSION_SET), line(3, CBC)),
            claim("C2", line(1, CBC, day=DAY + timedelta(days=1))),
        ),
        encounters=(visit(),),
    )
    assert rule(RuleCode.DUPLICATE_CHARGE, data) == []


def test_the_same_claim_content_settled_twice_under_two_encounters() -> None:
    data = AuditData(
        claims=(
            claim("C1", line(1, CONSULT, enc="E1"), line(2, CBC, price=2000, enc="E1")),
            claim("C2", line(1, CBC, price=2000, enc="E2"), line(2, CONSULT, enc="E2")),
        ),
        encounters=(visit("E1"), visit("E2")),
    )
    [found] = rule(RuleCode.DUPLICATE_CHARGE, data)
    assert found.claims == ("C1", "C2") and found.amount_fen == 3000
    assert found.basis == "same content"


def test_same_content_for_two_persons_is_not_a_duplicate() -> None:
    data = AuditData(
        claims=(
            claim("C1", line(1, CBC, enc="E1")),
            claim("C2", line(1, CBC, enc="E2"), person="P2"),
        ),
    )
    assert rule(RuleCode.DUPLICATE_CHARGE, data) == []


_codes = st.sampled_from([CONSULT, CBC, CT, AMOXICILLIN, BED])


@st.composite
def _distinct_claims(draw: st.DrawFn) -> tuple[Claim, ...]:
    """Claims of one person where no item is billed twice on one day (whatever the encounter):
    so neither one encounter's item nor a whole claim's content repeats."""
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(["E1", "E2", "E3"]), _codes, st.integers(0, 5)),
            unique_by=lambda key: (key[1], key[2]), min_size=1, max_size=20,
        )
    )  # fmt: skip
    claims: list[Claim] = []
    for index, (enc, code, offset) in enumerate(keys):
        price = draw(st.integers(1, 100_000))
        claims.append(claim(f"C{index}", line(1, code, price=price, enc=enc,
                                              day=DAY + timedelta(days=offset))))  # fmt: skip
    return tuple(claims)


@settings(max_examples=60, deadline=None)
@given(_distinct_claims())
def test_a_duplicate_free_input_yields_no_duplicate_charge(claims: tuple[Claim, ...]) -> None:
    assert rule(RuleCode.DUPLICATE_CHARGE, AuditData(claims=claims)) == []


@settings(max_examples=60, deadline=None)
@given(_distinct_claims(), st.data())
def test_a_planted_duplicate_is_always_found(
    claims: tuple[Claim, ...], data: st.DataObject
) -> None:
    original = data.draw(st.sampled_from(claims))
    copy = Claim("DUP", original.person, original.facility, original.created, original.lines)
    found = rule(RuleCode.DUPLICATE_CHARGE, AuditData(claims=(*claims, copy)))
    assert any("DUP" in f.claims and original.id in f.claims for f in found)
    assert sum(f.amount_fen for f in found) == copy.amount_fen


# -- split-admission ---------------------------------------------------------------------------


def test_readmission_within_n_days_same_diagnosis() -> None:
    first = stay("S1", date(2026, 3, 1), date(2026, 3, 8))
    second = stay("S2", date(2026, 3, 20), date(2026, 3, 25))  # 12 days later; N = 30 in 2026
    data = AuditData(
        claims=(claim("C2", line(1, CT, price=15000, enc="S2", fund=9000)),),
        encounters=(first, second),
    )
    [found] = rule(RuleCode.SPLIT_ADMISSION, data)
    assert found.encounters == ("S1", "S2") and found.claims == ("C2",)
    assert found.amount_fen == 9000 and "12 days" in found.detail


@pytest.mark.parametrize(
    ("second", "why"),
    [
        (stay("S2", date(2026, 4, 20), date(2026, 4, 25)), "43 days: beyond N"),
        (stay("S2", date(2026, 3, 12), date(2026, 3, 15), dx="K35"), "another diagnosis"),
        (stay("S2", date(2026, 3, 12), date(2026, 3, 15), facility="H002"), "another facility"),
    ],
)
def test_readmissions_that_are_not_split(second: Encounter, why: str) -> None:
    first = stay("S1", date(2026, 3, 1), date(2026, 3, 8))
    assert rule(RuleCode.SPLIT_ADMISSION, AuditData(encounters=(first, second))) == [], why


def test_the_2025_policy_uses_its_own_n() -> None:
    first = stay("S1", date(2025, 3, 1), date(2025, 3, 8))
    second = stay("S2", date(2025, 3, 28), date(2025, 3, 30))  # 20 days: over 2025's N = 15
    found = run_rules(AuditData(encounters=(first, second)), load_policy().on(date(2025, 3, 1)))
    assert [f for f in found if f.rule is RuleCode.SPLIT_ADMISSION] == []


# -- bed-hogging -------------------------------------------------------------------------------


def _stay_lines(idle_days: int) -> tuple[Line, ...]:
    lines = [line(1, CT, price=15000, enc="S1")]
    for offset in range(1, idle_days + 1):
        day = DAY + timedelta(days=offset)
        lines += [line(2 * offset, BED, price=5000, enc="S1", day=day),
                  line(2 * offset + 1, NURSING, price=2000, enc="S1", day=day)]  # fmt: skip
    return tuple(lines)


def test_three_days_of_only_bed_and_nursing() -> None:
    data = AuditData(
        claims=(claim("C1", *_stay_lines(3)),),
        encounters=(stay("S1", DAY, DAY + timedelta(days=4)),),
    )
    [found] = rule(RuleCode.BED_HOGGING, data)
    assert found.amount_fen == 3 * 7000 and found.day == DAY + timedelta(days=1)


def test_two_idle_days_or_an_outpatient_visit_are_not_bed_hogging() -> None:
    inpatient = AuditData(
        claims=(claim("C1", *_stay_lines(2)),), encounters=(stay("S1", DAY, DAY + timedelta(3)),)
    )
    outpatient = AuditData(claims=(claim("C1", *_stay_lines(5)),), encounters=(visit("S1"),))
    assert rule(RuleCode.BED_HOGGING, inpatient) == rule(RuleCode.BED_HOGGING, outpatient) == []


# -- excess-quantity ---------------------------------------------------------------------------


def test_acute_days_over_the_limit() -> None:
    data = AuditData(
        claims=(claim("C1", line(1, AMOXICILLIN, qty=10, price=35)),),
        encounters=(visit(),),
        dispenses=(dispense("D1", AMOXICILLIN, days=14),),
    )
    [found] = rule(RuleCode.EXCESS_QUANTITY, data)
    assert found.dispenses == ("D1",) and found.claims == ("C1",)
    assert found.amount_fen == 350 * 7 // 14


def test_chronic_drug_within_its_own_limit() -> None:
    data = AuditData(dispenses=(dispense("D1", ENALAPRIL, days=30),))
    assert rule(RuleCode.EXCESS_QUANTITY, data) == []


def test_overlapping_dispenses_across_facilities() -> None:
    data = AuditData(
        dispenses=(
            dispense("D1", METFORMIN, days=30, facility="H001", enc=None),
            dispense("D2", METFORMIN, days=30, facility="H002", enc=None,
                     day=DAY + timedelta(days=10)),
            dispense("D3", METFORMIN, days=30, facility="H002", enc=None,
                     day=DAY + timedelta(days=38)),  # 2 days early at the same facility
        )
    )  # fmt: skip
    [found] = rule(RuleCode.EXCESS_QUANTITY, data)
    assert found.dispenses == ("D1", "D2") and found.facility == "H002"
    assert "20 days" in found.detail


# -- item-swap ---------------------------------------------------------------------------------


def test_billed_drug_differs_from_the_dispensed_one() -> None:
    data = AuditData(
        claims=(claim("C1", line(1, ENALAPRIL, qty=30, price=120)),),
        encounters=(visit(),),
        dispenses=(dispense("D1", AMOXICILLIN),),
    )
    [found] = rule(RuleCode.ITEM_SWAP, data)
    assert found.dispenses == ("D1",) and found.amount_fen == 3600


def test_billed_as_dispensed_is_no_swap() -> None:
    data = AuditData(
        claims=(claim("C1", line(1, ENALAPRIL), line(2, CONSULT)),),
        encounters=(visit(),),
        dispenses=(dispense("D1", ENALAPRIL),),
    )
    assert rule(RuleCode.ITEM_SWAP, data) == []


def test_a_swap_on_one_day_of_a_stay_whose_other_days_dispensed_the_billed_drug() -> None:
    second = DAY + timedelta(days=1)
    data = AuditData(
        claims=(
            claim("C1", line(1, ENALAPRIL, enc="S1"), line(2, ENALAPRIL, day=second, enc="S1")),
        ),
        encounters=(stay("S1", DAY, DAY + timedelta(days=3)),),
        dispenses=(
            dispense("D1", ENALAPRIL, enc="S1"),
            dispense("D2", METFORMIN, enc="S1", day=second),
        ),
    )
    [found] = rule(RuleCode.ITEM_SWAP, data)
    assert found.day == second and "D2" in found.dispenses and "D1" not in found.dispenses


def test_a_stay_day_without_dispenses_is_compared_with_the_whole_stay() -> None:
    second = DAY + timedelta(days=1)
    data = AuditData(
        claims=(claim("C1", line(1, ENALAPRIL, enc="S1", day=second)),),
        encounters=(stay("S1", DAY, DAY + timedelta(days=3)),),
        dispenses=(dispense("D1", ENALAPRIL, enc="S1"),),
    )
    assert rule(RuleCode.ITEM_SWAP, data) == []


# -- phantom-service ---------------------------------------------------------------------------


def test_a_claim_without_an_encounter() -> None:
    data = AuditData(claims=(claim("C1", line(1, CONSULT, enc="E404")),))
    [found] = rule(RuleCode.PHANTOM_SERVICE, data)
    assert found.basis == "no encounter" and found.amount_fen == 1000


def test_a_drug_billed_with_nothing_dispensed() -> None:
    data = AuditData(claims=(claim("C1", line(1, AMOXICILLIN)),), encounters=(visit(),))
    [found] = rule(RuleCode.PHANTOM_SERVICE, data)
    assert found.basis == "no dispense E1"


def test_service_after_death() -> None:
    data = AuditData(
        claims=(claim("C1", line(1, CONSULT)),),
        encounters=(visit(),),
        persons=(Person("P1", Sex.MALE, date(1950, 1, 1), DAY - timedelta(days=2)),),
    )
    [found] = rule(RuleCode.PHANTOM_SERVICE, data)
    assert found.basis == "after death"


def test_two_places_at_once() -> None:
    data = AuditData(
        claims=(claim("C2", line(1, CONSULT, enc="E2"), facility="H002"),),
        encounters=(stay("S1", DAY - timedelta(days=1), None), visit("E2", facility="H002")),
    )
    [found] = rule(RuleCode.PHANTOM_SERVICE, data)
    assert found.encounters == ("E2", "S1") and found.facility == "H002"


def test_an_honest_visit_is_not_phantom() -> None:
    data = AuditData(
        claims=(claim("C1", line(1, CONSULT), line(2, AMOXICILLIN)),),
        encounters=(visit(), visit("E2", facility="H002", day=DAY + timedelta(days=1))),
        dispenses=(dispense("D1", AMOXICILLIN),),
        persons=(Person("P1", Sex.MALE, date(1950, 1, 1)),),
    )
    assert rule(RuleCode.PHANTOM_SERVICE, data) == []


# -- out-of-scope ------------------------------------------------------------------------------


def test_not_covered_item_paid_by_the_fund() -> None:
    data = AuditData(claims=(claim("C1", line(1, FILLER, price=180000, fund=100000)),))
    [found] = rule(RuleCode.OUT_OF_SCOPE, data)
    assert found.amount_fen == 100000


@pytest.mark.parametrize(
    ("code", "person", "flagged"),
    [
        (PSA, Person("P1", Sex.FEMALE, date(1970, 1, 1)), True),
        (PSA, Person("P1", Sex.MALE, date(1970, 1, 1)), False),
        (CYTOLOGY, Person("P1", Sex.MALE, date(1970, 1, 1)), True),
        (CYTOLOGY, Person("P1", Sex.UNKNOWN, date(1970, 1, 1)), False),
        (TUINA, Person("P1", Sex.MALE, date(2020, 1, 1)), False),
        (TUINA, Person("P1", Sex.MALE, date(2011, 3, 1)), True),  # 15 on the day
        (TUINA, Person("P1", Sex.MALE, date(2011, 3, 2)), False),  # 14 on the day
    ],
)
def test_sex_and_age_inconsistent_items(code: str, person: Person, flagged: bool) -> None:
    data = AuditData(claims=(claim("C1", line(1, code)),), persons=(person,))
    assert bool(rule(RuleCode.OUT_OF_SCOPE, data)) is flagged


# -- unbundling --------------------------------------------------------------------------------


def test_package_billed_as_its_parts() -> None:
    parts = (line(1, CONSULT), line(2, CBC, price=2500), line(3, CT, price=30000))
    [found] = rule(RuleCode.UNBUNDLING, AuditData(claims=(claim("C1", *parts),)))
    assert found.amount_fen == 33500 - 30000


def test_package_billed_as_itself_or_partly_is_not_unbundled() -> None:
    with_package = claim("C1", line(1, PACKAGE, price=30000), line(2, CONSULT), line(3, CBC),
                         line(4, CT))  # fmt: skip
    two_parts = claim("C2", line(1, CONSULT, enc="E2"), line(2, CBC, enc="E2"))
    assert rule(RuleCode.UNBUNDLING, AuditData(claims=(with_package, two_parts))) == []


# -- the engine --------------------------------------------------------------------------------


def test_keys_are_stable_and_findings_unique() -> None:
    data = AuditData(
        claims=(claim("C1", line(1, CBC)), claim("C2", line(1, CBC))), encounters=(visit(),)
    )
    first, second = run_rules(data, POLICY), run_rules(data, POLICY)
    assert [f.key for f in first] == [f.key for f in second]
    assert len({f.key for f in first}) == len(first)


def test_a_policy_without_the_section_runs_no_audit() -> None:
    bare = POLICY.model_copy(update={"claims_audit": None})
    with pytest.raises(AuditNotConfigured):
        run_rules(AuditData(), bare)


# -- parameters: invalid ones refuse to load ---------------------------------------------------


def _policy_with(change: dict[str, object]) -> str:
    document = json.loads(load_policy().model_dump_json(by_alias=True))
    section = document["versions"][1]["claims_audit"]
    for path, value in change.items():
        *parents, leaf = path.split(".")
        node = section
        for name in parents:
            node = node[name]
        node[leaf] = value
    return json.dumps(document)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bed_hogging.bed_and_nursing_codes": ["NOPE"]}, "not in the catalogue: NOPE"),
        ({"excess_quantity.chronic_max_days": 3}, "chronic_max_days must be at least"),
        ({"split_admission.readmission_days": 0}, "greater than or equal to 1"),
        ({"unbundling.packages": [{"code": PACKAGE, "parts": [CBC, CT], "min_parts": 3}]},
         "min_parts exceeds"),
        ({"out_of_scope.sex_restricted": [{"code": PSA, "sex": "other"}]}, "male or female"),
        ({"bed_hogging.typo": 1}, "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_invalid_parameters_refuse_to_load(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        load_policy(_policy_with(change))


def test_the_sample_parameters_load_and_are_marked_sample() -> None:
    policy = load_policy()
    assert policy.sample and all(v.claims_audit is not None for v in policy.versions)
    assert all("SAMPLE" in (v.claims_audit.note if v.claims_audit else "") for v in policy.versions)
