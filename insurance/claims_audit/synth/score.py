"""Per-rule precision and recall of the audit's findings against the planted truth. Pure.

A finding matches a planted case when it has the case's rule code and names at least one of
the case's claims. Precision: findings of a rule that match a planted case of that rule, over
all its findings about the month (a finding on background traffic or on a near-miss is a
false one). Recall: planted cases of a rule matched by some finding of that rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from insurance.claims_audit.synth.records import TruthRow
from insurance.claims_audit.synth.setting import NEAR_MISS, PLANTED

GOAL = 0.95


@dataclass(frozen=True)
class FoundIssue:
    """What scoring reads of a finding (a DetectedIssue): its id, rule and claims."""

    id: str
    rule: str
    claims: tuple[str, ...]


@dataclass
class RuleScore:
    rule: str
    planted: int = 0
    found: int = 0  # planted cases matched
    findings: int = 0
    true_findings: int = 0
    missed: list[TruthRow] = field(default_factory=list)
    false_findings: list[FoundIssue] = field(default_factory=list)
    near_misses_flagged: list[TruthRow] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.true_findings / self.findings if self.findings else None

    @property
    def recall(self) -> float | None:
        return self.found / self.planted if self.planted else None


def score(
    truth: Sequence[TruthRow], issues: Iterable[FoundIssue], rules: Sequence[str]
) -> dict[str, RuleScore]:
    """The score of each rule in ``rules`` (issues of other rules are left out)."""
    scores = {rule: RuleScore(rule) for rule in rules}
    cases_of_claim: dict[tuple[str, str], list[TruthRow]] = {}
    for row in truth:
        for claim in row.claims:
            cases_of_claim.setdefault((row.rule, claim), []).append(row)
    matched: set[str] = set()
    flagged_near: set[str] = set()
    for issue in issues:
        result = scores.get(issue.rule)
        if result is None:
            continue
        result.findings += 1
        rows = {r.case: r for c in issue.claims for r in cases_of_claim.get((issue.rule, c), [])}
        planted = [r for r in rows.values() if r.kind == PLANTED]
        if planted:
            result.true_findings += 1
            matched.update(r.case for r in planted)
            continue
        result.false_findings.append(issue)
        for row in rows.values():
            if row.kind == NEAR_MISS and row.case not in flagged_near:
                flagged_near.add(row.case)
                result.near_misses_flagged.append(row)
    for row in truth:
        if row.kind == PLANTED and row.rule in scores:
            scores[row.rule].planted += 1
            if row.case in matched:
                scores[row.rule].found += 1
            else:
                scores[row.rule].missed.append(row)
    return scores


def score_rows(scores: dict[str, RuleScore]) -> list[dict[str, object]]:
    """Rows for a listing: figures per rule beside the goal."""

    def figure(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    return [
        {
            "rule": s.rule,
            "planted": s.planted,
            "found": s.found,
            "findings": s.findings,
            "false": len(s.false_findings),
            "near_misses_flagged": len(s.near_misses_flagged),
            "precision": figure(s.precision),
            "recall": figure(s.recall),
            "goal": f">= {GOAL}",
            "met": "yes" if (s.precision or 0) >= GOAL and (s.recall or 0) >= GOAL else "no",
        }
        for s in scores.values()
    ]


SCORE_COLUMNS = ("rule", "planted", "found", "findings", "false", "near_misses_flagged",
                 "precision", "recall", "goal", "met")  # fmt: skip
