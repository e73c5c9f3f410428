"""The monthly report's pure figures: months, findings by rule and month (fen), review states,
facility metrics (visits, drug share, readmissions), quartiles and the outlier flag."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from hub.region.facilities import index_by_code, load_facilities
from insurance.claims_audit.codes import RuleCode, Severity
from insurance.claims_audit.detected_issue import Outcome, Review, detected_issue, reviewed
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.monthly_report import TABLE_NAMES, build_report, report_tables
from insurance.claims_audit.peer_figures import (
    Flag,
    Metric,
    facility_facts,
    facility_metrics,
    peer_positions,
    peer_stats,
    quantile,
)
from insurance.claims_audit.report_figures import (
    FindingFacts,
    Month,
    ReviewState,
    by_month,
    by_rule,
    finding_facts,
    trailing_months,
)
from insurance.claims_audit.view import Claim, Encounter, Line

SEPT = Month(2025, 9)
DRUG, SERVICE = "XJ01CAA040A001010100001", "001102000000100"
FACILITIES = {f.code: facility_facts(f) for f in load_facilities()}


def _finding(
    rule: str, fen: int, day: date, state: ReviewState = ReviewState.OPEN, recover: int = 0,
    facility: str = "H001",
) -> FindingFacts:  # fmt: skip
    return FindingFacts(f"f-{rule}-{fen}-{day}", rule, facility, day, fen, state, recover)


# -- months ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "26-03", "2026-3", "2026/03", "", "1899-12",
                                  "２０２６-03", " 2026-03", "2026-03-01"])  # fmt: skip
def test_a_bad_month_is_refused_naming_the_value(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM") as refused:
        Month.parse(text)
    assert repr(text) in str(refused.value)


def test_months_step_across_years() -> None:
    assert Month.parse("2026-01").previous() == Month(2025, 12)
    assert Month(2025, 12).next() == Month(2026, 1)
    assert Month(2025, 12).end == date(2026, 1, 1)
    assert str(Month(2025, 9)) == "2025-09"
    trend = trailing_months(SEPT)
    assert len(trend) == 12 and trend[0] == Month(2024, 10) and trend[-1] == SEPT


# -- findings ----------------------------------------------------------------------------------


def test_by_rule_sums_fen_per_review_state_and_lists_every_rule() -> None:
    found = [
        _finding("duplicate-charge", 2001, date(2025, 9, 1)),
        _finding("duplicate-charge", 999, date(2025, 9, 2), ReviewState.CONFIRMED, 500),
        _finding("duplicate-charge", 1, date(2025, 9, 3), ReviewState.DISMISSED),
        _finding("phantom-service", 10_000, date(2025, 9, 4), ReviewState.DISMISSED),
    ]
    rows = {g.key: g for g in by_rule(found)}
    assert set(rows) == {str(r) for r in RuleCode}  # the quiet rules as zeros
    duplicate = rows["duplicate-charge"]
    assert (duplicate.count, duplicate.at_risk_fen, duplicate.recover_fen) == (3, 3001, 500)
    assert duplicate.dismissed_fen == 1
    assert (duplicate.open, duplicate.confirmed, duplicate.dismissed) == (1, 1, 1)
    assert duplicate.label == "重复收费 Duplicate charge"
    assert [g.key for g in by_rule(found)][:2] == ["phantom-service", "duplicate-charge"]
    assert rows["bed-hogging"].count == 0 and rows["bed-hogging"].at_risk_fen == 0


def test_the_trend_has_every_month_zeros_for_gaps() -> None:
    found = [
        _finding("duplicate-charge", 100, date(2024, 10, 31)),
        _finding("duplicate-charge", 200, date(2025, 7, 15)),
        _finding("unbundling", 300, date(2025, 9, 30)),
        _finding("unbundling", 400, date(2025, 9, 1)),
        _finding("unbundling", 999, date(2025, 10, 1)),  # after the month: not in the trend
    ]
    trend = by_month(found, trailing_months(SEPT))
    assert str(trend[0].month) == "2024-10" and len(trend) == 12
    assert [(m.count, m.at_risk_fen) for m in trend] == [
        (1, 100), *[(0, 0)] * 8, (1, 200), (0, 0), (2, 700),
    ]  # fmt: skip


def test_a_detected_issue_becomes_facts_with_its_review() -> None:
    finding = Finding(
        RuleCode.DUPLICATE_CHARGE, Severity.HIGH, "H002", "p1", date(2025, 9, 5), 2000,
        "twice", "basis", claims=("c1",),
    )  # fmt: skip
    issue = dict(detected_issue(finding, datetime(2025, 9, 6, tzinfo=UTC)), id="ca-1")
    facts = finding_facts(issue)
    assert facts == FindingFacts("ca-1", "duplicate-charge", "H002", date(2025, 9, 5), 2000,
                                 ReviewState.OPEN)  # fmt: skip
    when = datetime(2025, 9, 7, tzinfo=UTC)
    confirmed = reviewed(issue, Review(Outcome.CONFIRMED, "billed twice", 1550, "a"), when)
    assert finding_facts(confirmed) == FindingFacts(
        "ca-1", "duplicate-charge", "H002", date(2025, 9, 5), 2000, ReviewState.CONFIRMED, 1550
    )
    dismissed = reviewed(issue, Review(Outcome.DISMISSED, "fine", 0, "a"), when)
    assert finding_facts(dismissed).state is ReviewState.DISMISSED  # type: ignore[union-attr]
    assert finding_facts(dict(issue, status="entered-in-error")) is None
    assert finding_facts({"resourceType": "DetectedIssue", "status": "preliminary"}) is None


# -- facility metrics --------------------------------------------------------------------------


def _at(day: int, hour: int = 9) -> datetime:
    return datetime(2025, 9, day, hour, tzinfo=UTC)


def _stay(id_: str, person: str, start: datetime, days: int, facility: str = "H001") -> Encounter:
    return Encounter(id_, person, facility, start, start + timedelta(days=days), inpatient=True)


def _claim(id_: str, facility: str, lines: list[tuple[str, int, str | None]]) -> Claim:
    return Claim(id_, "p1", facility, date(2025, 9, 10), tuple(
        Line(n, code, 1, fen, date(2025, 9, 10), encounter=enc)
        for n, (code, fen, enc) in enumerate(lines, start=1)
    ))  # fmt: skip


def test_visits_drug_share_and_readmissions() -> None:
    earlier = _stay("e0", "p1", datetime(2025, 8, 1, tzinfo=UTC), 10)  # left on 2025-08-11
    again = _stay("e1", "p1", _at(10), 3)  # 30 days after: a readmission
    late = _stay("e2", "p2", _at(20), 2)
    before_late = _stay("e3", "p2", datetime(2025, 8, 1, tzinfo=UTC), 18)  # 31 days before
    elsewhere = _stay("e4", "p3", _at(5), 1, facility="H002")  # another facility's stay
    third = _stay("e5", "p3", _at(8), 2)
    claims = [
        _claim("c1", "H001", [(DRUG, 3000, "e1"), (SERVICE, 7000, "e1")]),
        _claim("c2", "H001", [(SERVICE, 5000, "e2"), (DRUG, 5000, None)]),  # 2 visits
        _claim("c3", "H001", [(SERVICE, 1000, "e5")]),
    ]
    [row] = facility_metrics(claims, [earlier, again, late, before_late, elsewhere, third], {DRUG})
    assert (row.facility, row.claims, row.visits) == ("H001", 3, 4)
    assert (row.amount_fen, row.drug_fen) == (21_000, 8000)
    assert (row.admissions, row.readmissions) == (3, 1)
    assert row.value(Metric.COST_PER_VISIT) == Decimal("52.5")  # 210 yuan / 4 visits
    assert row.value(Metric.DRUG_SHARE) == Decimal(8000) * 100 / 21_000
    assert row.value(Metric.READMISSION_RATE) == Decimal(100) / 3


def test_no_admissions_means_no_readmission_rate() -> None:
    [row] = facility_metrics([_claim("c1", "H002", [(SERVICE, 100, None)])], [], {DRUG})
    assert row.value(Metric.READMISSION_RATE) is None and row.visits == 1


# -- quartiles and flags -----------------------------------------------------------------------


def test_quartiles_interpolate_between_ranks() -> None:
    values = [Decimal(v) for v in (4, 1, 3, 2)]
    stats = peer_stats(values)
    assert (stats.q1, stats.median, stats.q3) == (Decimal("1.75"), Decimal("2.5"), Decimal("3.25"))
    assert quantile([Decimal(7)], Decimal("0.75")) == 7
    with pytest.raises(ValueError):
        quantile([], Decimal("0.5"))


def test_the_flag_is_beyond_the_fences_with_enough_peers() -> None:
    stats = peer_stats(Decimal(v) for v in (10, 11, 12, 13, 40))
    assert (stats.q1, stats.q3, stats.upper_fence, stats.lower_fence) == (11, 13, 16, 8)
    assert stats.flag(Decimal(40)) is Flag.HIGH
    assert stats.flag(Decimal(16)) is Flag.NONE  # on the fence is not beyond it
    assert stats.flag(Decimal("7.99")) is Flag.LOW
    few = peer_stats(Decimal(v) for v in (10, 11, 400))
    assert few.flag(Decimal(400)) is Flag.FEW_PEERS


def test_peers_are_the_facilities_of_one_level() -> None:
    registry = index_by_code(load_facilities())
    assert FACILITIES["H001"].peer_group == "三级医院" and registry["H008"].level == "二级"
    costs = {"H001": 100, "H002": 110, "H003": 120, "H004": 130, "H005": 1000, "H008": 5000}
    claims = [_claim(f"c-{code}", code, [(SERVICE, yuan * 100, None)]) for code, yuan in
              costs.items()]  # fmt: skip
    positions = [
        p for p in peer_positions(facility_metrics(claims, [], {DRUG}), FACILITIES)
        if p.metric is Metric.COST_PER_VISIT
    ]  # fmt: skip
    flags = {p.facility.code: p.flag for p in positions}
    assert flags == {
        "H005": Flag.HIGH, "H001": Flag.NONE, "H002": Flag.NONE, "H003": Flag.NONE,
        "H004": Flag.NONE, "H008": Flag.FEW_PEERS,  # alone among the 二级 hospitals
    }  # fmt: skip
    top = positions[0]
    assert top.facility.code == "H005" and top.stats.count == 5 and top.stats.median == 120


def test_the_report_keeps_the_window_and_the_facility() -> None:
    found = [
        _finding("duplicate-charge", 100, date(2025, 9, 2)),
        _finding("unbundling", 300, date(2025, 9, 3), facility="H005"),
        _finding("unbundling", 500, date(2024, 9, 30)),  # before the trend's first month
    ]
    claims = [_claim("c1", "H001", [(SERVICE, 100, None)]),
              _claim("c2", "H002", [(SERVICE, 100, None)])]  # fmt: skip
    now = datetime(2025, 10, 2, tzinfo=UTC)
    whole = build_report(SEPT, found, claims, [], drug_codes={DRUG}, facilities=FACILITIES,
                         generated=now)  # fmt: skip
    assert whole.findings == 2 and sum(m.count for m in whole.trend) == 2
    assert {g.key: g.label for g in whole.by_district} == {"420502": "西陵区", "420503": "伍家岗区"}
    one = build_report(SEPT, found, claims, [], drug_codes={DRUG}, facilities=FACILITIES,
                       generated=now, facility="H001")  # fmt: skip
    assert one.findings == 1 and [g.key for g in one.by_facility] == ["H001"]
    assert {m.facility for m in one.metrics} == {"H001"}
    assert {p.facility.code for p in one.peers} == {"H001"} and one.peers[0].stats.count == 2
    tables = report_tables(one)
    assert tuple(t.name for t in tables) == TABLE_NAMES
    by_rule_table = next(t for t in tables if t.name == "by-rule")
    assert by_rule_table.rows[0][:4] == ("duplicate-charge", "重复收费 Duplicate charge", 1,
                                         Decimal("1.00"))  # fmt: skip
