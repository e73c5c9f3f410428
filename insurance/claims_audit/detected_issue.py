"""A finding as a FHIR ``DetectedIssue``, and an auditor's review of it. Pure.

- ``code`` is the rule code (the hub's CodeSystem ``claims-audit-rule``), ``severity`` the
  rule's, ``implicated`` the Claims, Encounters and MedicationDispenses, ``detail`` the evidence
  in words, ``evidence.detail`` the facility (searchable as ``facility``), ``author`` the hub's
  claims-audit service, ``identifier`` the finding's stable key (its id is derived from it, so
  the store's unique id holds "written once" even between two concurrent runs).
- Status: ``preliminary`` while open; an auditor's review makes it ``final`` (confirmed) or
  ``cancelled`` (dismissed), with the review (outcome, reason, amount to recover, reviewer,
  when) in the ``claims-audit-review`` extension. A finding resting on a record the hub did not
  hold (``claims-audit-absence``) that a re-run after late data no longer finds is closed by
  the hub: ``cancelled`` with a ``mitigation`` saying so (:func:`disproved`). The review lives
  on the finding rather than in a separate Task: one resource to search by status and
  facility, one version history (each step is a version, audited by the store), and nothing to
  keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from insurance.claims_audit.codes import RULE_DISPLAY, RULE_SYSTEM
from insurance.claims_audit.findings import Finding
from insurance.money import money, to_fen

HUB = "https://hub.example.cn/fhir"
FINDING_SYSTEM = f"{HUB}/sid/claims-audit-finding"
EXT_AMOUNT_AT_RISK = f"{HUB}/StructureDefinition/claims-audit-amount-at-risk"
EXT_SERVICE_DAY = f"{HUB}/StructureDefinition/claims-audit-service-day"
EXT_REVIEW = f"{HUB}/StructureDefinition/claims-audit-review"
EXT_ABSENCE = f"{HUB}/StructureDefinition/claims-audit-absence"
MITIGATION_SYSTEM = f"{HUB}/CodeSystem/claims-audit-mitigation"
DISPROVED = "disproved-by-later-data"
AUTHOR = {
    "identifier": {"system": f"{HUB}/sid/hub-service", "value": "claims-audit"},
    "display": "Hub claims audit",
}
OPEN = "preliminary"
MAX_REASON = 1000


class Outcome(StrEnum):
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


STATUS_OF = {Outcome.CONFIRMED: "final", Outcome.DISMISSED: "cancelled"}


class ReviewRefused(ValueError):
    """A review that cannot be applied; ``conflict``: the finding was reviewed already."""

    def __init__(self, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.conflict = conflict


def finding_id(key: str) -> str:
    return f"ca-{key}"


def detected_issue(finding: Finding, identified: datetime) -> dict[str, Any]:
    implicated = [
        *(f"Claim/{c}" for c in finding.claims),
        *(f"Encounter/{e}" for e in finding.encounters),
        *(f"MedicationDispense/{d}" for d in finding.dispenses),
        *(f"MedicationRequest/{p}" for p in finding.prescriptions),
    ]
    extension: list[dict[str, Any]] = [
        {"url": EXT_AMOUNT_AT_RISK, "valueMoney": money(finding.amount_fen)},
        {"url": EXT_SERVICE_DAY, "valueDate": finding.day.isoformat()},
    ]
    if finding.absence:
        extension.append({"url": EXT_ABSENCE, "valueBoolean": True})
    return {
        "resourceType": "DetectedIssue",
        "identifier": [{"system": FINDING_SYSTEM, "value": finding.key}],
        "status": OPEN,
        "code": {
            "coding": [
                {"system": RULE_SYSTEM, "code": finding.rule, "display": RULE_DISPLAY[finding.rule]}
            ]
        },
        "severity": finding.severity,
        "patient": {"reference": f"Patient/{finding.person}"},
        "identifiedDateTime": identified.isoformat(),
        "author": AUTHOR,
        "implicated": [{"reference": ref} for ref in implicated],
        "evidence": [
            {
                "code": [{"text": "facility"}],
                "detail": [{"reference": f"Organization/{finding.facility}"}],
            }
        ],
        "detail": finding.detail,
        "extension": extension,
    }


def rests_on_absence(issue: dict[str, Any]) -> bool:
    """An open finding the hub wrote on a record it did not hold (later data may disprove)."""
    return issue.get("status") == OPEN and any(
        e.get("url") == EXT_ABSENCE and e.get("valueBoolean") is True
        for e in issue.get("extension") or []
    )


def disproved(issue: dict[str, Any], note: str, when: datetime) -> dict[str, Any]:
    """The open finding as the hub closes it: cancelled, with why in a ``mitigation``."""
    mitigation = {
        "action": {
            "coding": [{"system": MITIGATION_SYSTEM, "code": DISPROVED}],
            "text": note,
        },
        "date": when.isoformat(),
    }
    return dict(issue, status=STATUS_OF[Outcome.DISMISSED],
                mitigation=[*(issue.get("mitigation") or []), mitigation])  # fmt: skip


@dataclass(frozen=True)
class Review:
    outcome: Outcome
    reason: str
    recover_fen: int  # the amount to recover from the facility; 0 for a dismissal
    reviewer: str  # who reviewed: the token's client (and practitioner when it names one)


def check_review(review: Review) -> None:
    reason = review.reason.strip()
    if not reason:
        raise ReviewRefused("a review states its reason")
    if len(reason) > MAX_REASON or any(ord(c) < 32 and c not in "\n\t" for c in reason):
        raise ReviewRefused(f"the reason is plain text of at most {MAX_REASON} characters")
    if review.recover_fen < 0:
        raise ReviewRefused("the amount to recover is never negative")
    if review.outcome is Outcome.DISMISSED and review.recover_fen:
        raise ReviewRefused("a dismissed finding recovers nothing")


def reviewed(issue: dict[str, Any], review: Review, when: datetime) -> dict[str, Any]:
    """The finding as the review leaves it; :class:`ReviewRefused` when it cannot be applied."""
    check_review(review)
    if issue.get("status") != OPEN:
        raise ReviewRefused(
            f"DetectedIssue/{issue.get('id')} was reviewed already ({issue.get('status')})",
            conflict=True,
        )
    extension = [e for e in issue.get("extension") or [] if e.get("url") != EXT_REVIEW]
    extension.append(
        {
            "url": EXT_REVIEW,
            "extension": [
                {"url": "outcome", "valueCode": review.outcome},
                {"url": "reason", "valueString": review.reason.strip()},
                {"url": "recover", "valueMoney": money(review.recover_fen)},
                {"url": "reviewer", "valueString": review.reviewer},
                {"url": "date", "valueDateTime": when.isoformat()},
            ],
        }
    )
    return dict(issue, status=STATUS_OF[review.outcome], extension=extension)


def amount_at_risk(issue: dict[str, Any]) -> int:
    for extension in issue.get("extension") or []:
        if extension.get("url") == EXT_AMOUNT_AT_RISK:
            return to_fen((extension.get("valueMoney") or {}).get("value", 0))
    return 0
