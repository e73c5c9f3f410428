"""The claims audit's monthly report: its figures (:class:`MonthlyReport`) and the same figures
as named tables, the CSV files' and the HTML page's (:func:`report_tables`). Pure.

Amounts in the tables are yuan with two decimals (from integer fen); the peer metrics are
rounded to two decimals for display only (the quartiles and flags use the exact values).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from insurance.claims_audit.peer_figures import (
    METRIC_LABEL,
    UNREGISTERED,
    FacilityFacts,
    FacilityMetrics,
    PeerPosition,
    facility_metrics,
    peer_positions,
    unregistered,
)
from insurance.claims_audit.report_figures import (
    FindingFacts,
    GroupFigures,
    Month,
    MonthFigures,
    by_month,
    by_rule,
    group_findings,
    in_month,
    trailing_months,
)
from insurance.claims_audit.view import Claim, Encounter
from insurance.money import yuan

CENT = Decimal("0.01")
Cell = str | int | Decimal


@dataclass(frozen=True)
class MonthlyReport:
    month: Month
    facility: str | None  # the report of one facility (its findings, its place among peers)
    generated: datetime
    by_rule: list[GroupFigures]
    by_facility: list[GroupFigures]
    by_district: list[GroupFigures]
    trend: list[MonthFigures]
    metrics: list[FacilityMetrics]
    peers: list[PeerPosition]
    facilities: Mapping[str, FacilityFacts]

    @property
    def findings(self) -> int:
        return sum(g.count for g in self.by_rule)

    def facility_facts(self, code: str) -> FacilityFacts:
        return self.facilities.get(code) or unregistered(code)


def build_report(
    month: Month,
    findings: Iterable[FindingFacts],
    claims: Iterable[Claim],
    encounters: Iterable[Encounter],
    *,
    drug_codes: Collection[str],
    facilities: Mapping[str, FacilityFacts],
    generated: datetime,
    facility: str | None = None,
    trend: list[MonthFigures] | None = None,
) -> MonthlyReport:
    """``findings`` of the trend's months (others are ignored; single findings or groups of
    them, ``FindingFacts.count``); ``claims`` of every facility in the month (the peers), their
    encounters and the same persons' earlier stays. ``trend``: the months' figures when counted
    elsewhere (the database's tally, ``report_service``), ``findings`` then the month's only."""
    months = trailing_months(month)
    window = [
        f
        for f in findings
        if months[0].first_day <= f.day < month.end and facility in (None, f.facility)
    ]
    of_month = in_month(window, month)
    of_claims = [c for c in claims if month.first_day <= c.created < month.end]
    metrics = facility_metrics(of_claims, encounters, drug_codes)
    peers = peer_positions(metrics, facilities)

    def facts(code: str) -> FacilityFacts:
        return facilities.get(code) or unregistered(code)

    return MonthlyReport(
        month=month,
        facility=facility,
        generated=generated,
        by_rule=by_rule(of_month),
        by_facility=group_findings(of_month, lambda f: f.facility, lambda c: facts(c).name),
        by_district=group_findings(
            of_month, lambda f: facts(f.facility).district_code, district_names(facilities)
        ),
        trend=by_month(window, months) if trend is None else trend,
        metrics=[m for m in metrics if facility in (None, m.facility)],
        peers=[p for p in peers if facility in (None, p.facility.code)],
        facilities=facilities,
    )


def district_names(facilities: Mapping[str, FacilityFacts]) -> Callable[[str], str]:
    names = {f.district_code: f.district for f in facilities.values()}
    return lambda code: names.get(code) or UNREGISTERED


@dataclass(frozen=True)
class Table:
    name: str  # the CSV file's suffix and the page's anchor
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]


TABLE_NAMES = ("by-rule", "by-facility", "by-district", "by-month", "facility-metrics", "peers")
GROUP_COLUMNS = (
    "findings", "at_risk_yuan", "recover_yuan", "dismissed_yuan", "open", "confirmed", "dismissed",
)  # fmt: skip


def _group_cells(g: GroupFigures) -> tuple[Cell, ...]:
    return (
        g.count, _yuan(g.at_risk_fen), _yuan(g.recover_fen), _yuan(g.dismissed_fen),
        g.open, g.confirmed, g.dismissed,
    )  # fmt: skip


METRIC_COLUMNS = (
    "facility", "name", "peer_group", "claims", "visits", "amount_yuan", "drug_yuan",
    "admissions", "readmissions",
)  # fmt: skip
PEER_COLUMNS = (
    "metric", "metric_name", "facility", "name", "peer_group", "value", "peers", "q1", "median",
    "q3", "upper_fence", "lower_fence", "flag",
)  # fmt: skip


def _metric_cells(m: FacilityMetrics, facts: FacilityFacts) -> tuple[Cell, ...]:
    return (
        m.facility, facts.name, facts.peer_group, m.claims, m.visits, _yuan(m.amount_fen),
        _yuan(m.drug_fen), m.admissions, m.readmissions,
    )  # fmt: skip


def _peer_cells(p: PeerPosition) -> tuple[Cell, ...]:
    stats = p.stats
    return (
        p.metric.value, METRIC_LABEL[p.metric], p.facility.code, p.facility.name,
        p.facility.peer_group, _display(p.value), stats.count, _display(stats.q1),
        _display(stats.median), _display(stats.q3), _display(stats.upper_fence),
        _display(stats.lower_fence), p.flag.value,
    )  # fmt: skip


def _display(value: Decimal) -> Decimal:
    return value.quantize(CENT)


def _yuan(fen: int) -> Decimal:
    return yuan(fen).quantize(CENT)


def report_tables(report: MonthlyReport) -> list[Table]:
    """The report's figures as tables, in the page's order."""
    facts = report.facility_facts
    return [
        Table(
            "by-rule",
            "按规则 Findings by rule",
            ("rule", "name", *GROUP_COLUMNS),
            [(g.key, g.label, *_group_cells(g)) for g in report.by_rule],
        ),
        Table(
            "by-facility",
            "按机构 Findings by facility",
            ("facility", "name", "district", *GROUP_COLUMNS),
            [(g.key, g.label, facts(g.key).district, *_group_cells(g)) for g in report.by_facility],
        ),
        Table(
            "by-district",
            "按区县 Findings by district",
            ("district", "name", *GROUP_COLUMNS),
            [(g.key, g.label, *_group_cells(g)) for g in report.by_district],
        ),
        Table(
            "by-month",
            "按月 Findings by month (service day)",
            ("month", "findings", "at_risk_yuan"),
            [(str(m.month), m.count, _yuan(m.at_risk_fen)) for m in report.trend],
        ),
        Table(
            "facility-metrics",
            "机构指标 The month's settled claims by facility",
            METRIC_COLUMNS,
            [_metric_cells(m, facts(m.facility)) for m in report.metrics],
        ),
        Table(
            "peers",
            "同级比较 Each facility against its peers (flag: beyond Q3 + 1.5 IQR or Q1 - 1.5 IQR)",
            PEER_COLUMNS,
            [_peer_cells(p) for p in report.peers],
        ),
    ]
