"""The fund auditor's read models and actions (医保稽核): findings by rule and facility, one
finding's evidence, its review, a day's ledger reconciliation and the monthly charts.

Findings are ``DetectedIssue`` resources searched through the store as the auditor (its scopes,
consent and audit apply to each search); a review, a reconciliation run and the monthly report
are the claims audit's own service functions (``insurance.claims_audit``), which check the
role and record what they change. Nothing here writes around them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from hub.console.queries.charts import recent
from hub.fhir.store import FhirStore
from hub.region.facilities import load_facilities
from insurance.claims_audit.codes import RULE_SYSTEM, RuleCode
from insurance.claims_audit.detected_issue import OPEN, STATUS_OF, Outcome, Review
from insurance.claims_audit.finding_tallies import finding_groups
from insurance.claims_audit.report_charts import report_charts
from insurance.claims_audit.report_figures import (
    FindingFacts,
    GroupFigures,
    Month,
    ReviewState,
    by_rule,
    finding_facts,
    group_findings,
)
from insurance.claims_audit.report_service import count_report, record_report_read
from insurance.claims_audit.service import review_finding
from insurance.money import to_fen

PAGE = 50
STATUS_OF_STATE = {
    ReviewState.OPEN: OPEN,
    ReviewState.CONFIRMED: STATUS_OF[Outcome.CONFIRMED],
    ReviewState.DISMISSED: STATUS_OF[Outcome.DISMISSED],
}
RULES = tuple(str(code) for code in RuleCode)


class BadFilter(ValueError):
    """A filter value the page cannot use; the message names the field (never echoes data)."""


@dataclass(frozen=True)
class FindingFilter:
    """Findings identified in ``month``, of one rule, facility and review state when given."""

    month: Month
    rule: str | None = None
    facility: str | None = None
    state: ReviewState | None = None

    @classmethod
    def parse(
        cls, month: str, rule: str = "", facility: str = "", state: str = ""
    ) -> FindingFilter:
        try:
            asked = Month.parse(month)
        except ValueError:
            raise BadFilter("month") from None
        if rule and rule not in RULES:
            raise BadFilter("rule")
        if facility and not (facility.isascii() and facility.replace("-", "").isalnum()
                             and len(facility) <= 64):  # fmt: skip
            raise BadFilter("facility")
        try:
            chosen = ReviewState(state) if state else None
        except ValueError:
            raise BadFilter("state") from None
        return cls(asked, rule or None, facility or None, chosen)

    def query(self) -> list[tuple[str, str]]:
        # One value of month precision: the month (two conditions, ge and lt, on one date
        # parameter are planned badly by PostgreSQL: a minute at 10,000 findings, 30 ms so).
        query = [("identified", str(self.month))]
        if self.rule:
            query.append(("code", f"{RULE_SYSTEM}|{self.rule}"))
        if self.facility:
            query.append(("facility", f"Organization/{self.facility}"))
        if self.state:
            query.append(("status", STATUS_OF_STATE[self.state]))
        return query


@dataclass(frozen=True)
class FindingsSummary:
    filter: FindingFilter
    total: int
    at_risk_fen: int
    by_rule: list[GroupFigures]
    by_facility: list[GroupFigures]


@dataclass(frozen=True)
class FindingRow:
    facts: FindingFacts
    detail: str
    patient: str


@dataclass(frozen=True)
class FindingsPage:
    rows: list[FindingRow]
    total: int
    page: int
    pages: int


def findings_summary(store: FhirStore, chosen: FindingFilter) -> FindingsSummary:
    """Counts and amounts of the filtered findings, by rule (every rule) and by facility,
    summed by the database (one grouped statement, not every finding loaded)."""
    facts = finding_groups(store, chosen.query(), chosen.month.first_day)
    return FindingsSummary(
        chosen,
        sum(f.count for f in facts),
        sum(f.at_risk_fen for f in facts),
        by_rule(facts),
        group_findings(facts, lambda f: f.facility, _facility_label),
    )


@cache
def _facility_names() -> dict[str, str]:
    return {f.code: f.name for f in load_facilities()}


def _facility_label(code: str) -> str:
    name = _facility_names().get(code)
    return f"{code} {name}" if name else code


def findings_page(store: FhirStore, chosen: FindingFilter, page: int = 1) -> FindingsPage:
    """One page of the filtered findings, the newest first."""
    page = max(page, 1)
    query = [*chosen.query(), ("_sort", "-identified"), ("_total", "accurate"),
             ("_count", str(PAGE)), ("_offset", str((page - 1) * PAGE))]  # fmt: skip
    result = store.search("DetectedIssue", query)
    rows = []
    for match in result.matches:
        issue = match.as_dict()
        facts = finding_facts(issue)
        if facts is not None:
            patient = str((issue.get("patient") or {}).get("reference") or "")
            rows.append(FindingRow(facts, str(issue.get("detail") or ""), patient))
    total = result.total or 0
    return FindingsPage(rows, total, page, max(1, -(-total // PAGE)))


# -- the review -------------------------------------------------------------------------------


def review(
    store: FhirStore, issue_id: str, outcome: str, reason: str, amount: str
) -> dict[str, Any]:
    """Confirm (with the amount to recover, yuan) or dismiss a finding, through the claims
    audit's review service; :class:`BadFilter` names a field the form got wrong."""
    try:
        chosen = Outcome(outcome)
    except ValueError:
        raise BadFilter("outcome") from None
    try:
        recover = to_fen(amount.strip() or "0")
    except ValueError:
        raise BadFilter("amount") from None
    reviewer = store.actor.client_id
    return review_finding(store, issue_id, Review(chosen, reason, recover, reviewer))


# -- the monthly charts -----------------------------------------------------------------------


@dataclass(frozen=True)
class ChartImage:
    name: str
    title: str
    data_uri: str  # the SVG as an image: its own styles apply, the page needs no inline style


@dataclass(frozen=True)
class MonthlyCharts:
    images: list[ChartImage]
    counted: datetime  # when the figures were counted (kept ``FIGURES_KEPT``)


def monthly_charts(store: FhirStore, month: Month, facility: str | None = None) -> MonthlyCharts:
    """The claims audit's monthly report's charts (matplotlib SVG, drawn by the hub). The
    figures are kept a few minutes for this user (``charts.recent``), each view audited."""
    record_report_read(store, facility)
    actor = store.actor
    key = ("monthly-report", actor.client_id, actor.role, actor.facility, actor.purpose_of_use,
           month, facility)  # fmt: skip
    report, counted = recent(key, lambda: count_report(store, month, facility))
    images = [
        ChartImage(
            c.name,
            c.title,
            "data:image/svg+xml;base64," + base64.b64encode(c.svg.encode()).decode("ascii"),
        )
        for c in report_charts(report)
    ]
    return MonthlyCharts(images, counted)
