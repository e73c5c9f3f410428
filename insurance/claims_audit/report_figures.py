"""The monthly report's findings figures: by rule, facility, district and month; what is at risk,
confirmed to recover and dismissed; the review state. Pure: typed values in, figures out.

A finding belongs to the month of its service day (the day its claims are about), not the day
it was identified: a report re-run later counts what later audits found about that month too.
Money is integer fen throughout.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from insurance.claims_audit.codes import RULE_DISPLAY, RuleCode
from insurance.claims_audit.detected_issue import (
    EXT_REVIEW,
    EXT_SERVICE_DAY,
    OPEN,
    STATUS_OF,
    amount_at_risk,
)
from insurance.money import to_fen

TREND_MONTHS = 12
UNKNOWN = "?"
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
YEARS = range(1900, 3000)  # a report's month: its trend and its search dates stay in range


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.year <= 9999 and 1 <= self.month <= 12):
            raise ValueError(f"not a month: {self.year:04d}-{self.month:02d}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM``; :class:`ValueError` naming the value otherwise."""
        found = _MONTH.fullmatch(text)
        if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) not in YEARS:
            raise ValueError(f"the month must be YYYY-MM (e.g. 2026-03), not {text!r}")
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        """The first day of the next month (exclusive)."""
        return self.next().first_day

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def trailing_months(last: Month, count: int = TREND_MONTHS) -> tuple[Month, ...]:
    """``count`` months ending with ``last``, oldest first."""
    months = [last]
    while len(months) < count:
        months.append(months[-1].previous())
    return tuple(reversed(months))


class ReviewState(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


STATE_OF_STATUS = {OPEN: ReviewState.OPEN} | {
    status: ReviewState(outcome) for outcome, status in STATUS_OF.items()
}


@dataclass(frozen=True)
class FindingFacts:
    """What the report needs of one finding (a DetectedIssue), or of ``count`` findings of one
    rule, facility, service day (or month) and state, their amounts summed (the database's
    tally, ``finding_tallies``)."""

    id: str
    rule: str
    facility: str
    day: date  # the service day
    at_risk_fen: int
    state: ReviewState
    recover_fen: int = 0  # confirmed: what the auditor set to recover
    count: int = 1


def _review_recover_fen(issue: Mapping[str, Any]) -> int:
    for extension in issue.get("extension") or []:
        if extension.get("url") == EXT_REVIEW:
            for part in extension.get("extension") or []:
                if part.get("url") == "recover":
                    return to_fen((part.get("valueMoney") or {}).get("value", 0))
    return 0


def finding_facts(issue: Mapping[str, Any]) -> FindingFacts | None:
    """The finding's facts, or None for a DetectedIssue that is not a claims-audit finding
    (no service day) or has a status the review does not give (entered-in-error)."""
    state = STATE_OF_STATUS.get(str(issue.get("status")))
    day = next(
        (
            e.get("valueDate")
            for e in issue.get("extension") or []
            if e.get("url") == EXT_SERVICE_DAY
        ),
        None,
    )
    if state is None or not isinstance(day, str):
        return None
    codings = (issue.get("code") or {}).get("coding") or []
    facilities = [
        str(d.get("reference", "")).removeprefix("Organization/")
        for e in issue.get("evidence") or []
        for d in e.get("detail") or []
    ]
    return FindingFacts(
        id=str(issue.get("id")),
        rule=str(codings[0].get("code")) if codings else UNKNOWN,
        facility=facilities[0] if facilities else UNKNOWN,
        day=date.fromisoformat(day[:10]),
        at_risk_fen=amount_at_risk(dict(issue)),
        state=state,
        recover_fen=_review_recover_fen(issue) if state is ReviewState.CONFIRMED else 0,
    )


def rule_label(rule: str) -> str:
    """E.g. ``重复收费 Duplicate charge``; the code itself for a rule the hub does not know."""
    try:
        return RULE_DISPLAY[RuleCode(rule)]
    except ValueError:
        return rule


@dataclass(frozen=True)
class GroupFigures:
    """The findings of one rule, facility or district."""

    key: str
    label: str
    count: int
    at_risk_fen: int
    recover_fen: int  # confirmed: to recover
    dismissed_fen: int  # dismissed: the amount that was at risk
    open: int
    confirmed: int
    dismissed: int


def group_findings(
    findings: Iterable[FindingFacts],
    key: Callable[[FindingFacts], str],
    label: Callable[[str], str],
) -> list[GroupFigures]:
    """One row per key, the largest amount at risk first (then the key)."""
    groups: dict[str, list[FindingFacts]] = defaultdict(list)
    for finding in findings:
        groups[key(finding)].append(finding)
    rows = [_figures(k, label(k), found) for k, found in groups.items()]
    return sorted(rows, key=lambda g: (-g.at_risk_fen, g.key))


def _figures(key: str, label: str, found: list[FindingFacts]) -> GroupFigures:
    states: dict[ReviewState, int] = defaultdict(int)
    for f in found:
        states[f.state] += f.count
    return GroupFigures(
        key=key,
        label=label,
        count=sum(states.values()),
        at_risk_fen=sum(f.at_risk_fen for f in found),
        recover_fen=sum(f.recover_fen for f in found),
        dismissed_fen=sum(f.at_risk_fen for f in found if f.state is ReviewState.DISMISSED),
        open=states[ReviewState.OPEN],
        confirmed=states[ReviewState.CONFIRMED],
        dismissed=states[ReviewState.DISMISSED],
    )


def by_rule(findings: Iterable[FindingFacts]) -> list[GroupFigures]:
    """Every rule the hub runs, one that found nothing as zeros (and any other code found)."""
    found = group_findings(findings, lambda f: f.rule, rule_label)
    seen = {g.key for g in found}
    quiet = [_figures(str(r), rule_label(r), []) for r in RuleCode if r not in seen]
    return found + sorted(quiet, key=lambda g: g.key)


@dataclass(frozen=True)
class MonthFigures:
    month: Month
    count: int
    at_risk_fen: int


def by_month(findings: Iterable[FindingFacts], months: Iterable[Month]) -> list[MonthFigures]:
    """Every month asked for, in order, a month without findings as zeros (a gap shows)."""
    counts: dict[Month, int] = defaultdict(int)
    amounts: dict[Month, int] = defaultdict(int)
    for finding in findings:
        month = Month.of(finding.day)
        counts[month] += finding.count
        amounts[month] += finding.at_risk_fen
    return [MonthFigures(m, counts[m], amounts[m]) for m in months]


def in_month(findings: Iterable[FindingFacts], month: Month) -> list[FindingFacts]:
    return [f for f in findings if month.first_day <= f.day < month.end]
