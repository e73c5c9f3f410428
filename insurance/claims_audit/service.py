"""Claims audit as a workflow over the store: run the rules, write findings once, review them.

Each function takes the caller's store and never commits. Findings are written by the hub's
claims-audit identity (:data:`CLAIMS_AUDIT_ACTOR`); reviews by an insurance auditor's token.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.exc import IntegrityError

from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.errors import Conflict, FhirError, Forbidden
from hub.fhir.store import FhirStore
from hub.settings import get_settings
from insurance.claims_audit.detected_issue import (
    Review,
    ReviewRefused,
    detected_issue,
    disproved,
    finding_id,
    rests_on_absence,
    reviewed,
)
from insurance.claims_audit.engine import AuditNotConfigured, implicating, run_rules
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.loading import load_claim, load_day
from insurance.claims_audit.params import ClaimsAuditParams
from insurance.claims_audit.recovery_service import mitigations
from insurance.claims_audit.sampling import sample_findings, sample_key
from insurance.claims_audit.view import AuditData
from insurance.policy import PolicyVersion
from insurance.policy_source import configured_policy

CLAIMS_AUDIT_ACTOR = Actor.build(
    client_id="hub-claims-audit",
    facility="HUB",
    role=Role.operator,
    scope="system/*.rs system/DetectedIssue.crus",
)


@dataclass(frozen=True)
class Recorded:
    created: int
    already: int


def _policy_on(day: date) -> tuple[PolicyVersion, ClaimsAuditParams]:
    try:
        policy = configured_policy().on(day)
    except LookupError as exc:  # no version in force: no audit either
        raise AuditNotConfigured(str(exc)) from None
    if policy.claims_audit is None:
        raise AuditNotConfigured(f"policy {policy.version} has no claims_audit section")
    return policy, policy.claims_audit


def record_findings(store: FhirStore, findings: Iterable[Finding]) -> Recorded:
    """Write each finding as a DetectedIssue unless it is there already (its id is its key)."""
    now = datetime.now(UTC)
    created = already = 0
    for finding in findings:
        savepoint = store.session.begin_nested()
        try:
            store.create(
                "DetectedIssue", detected_issue(finding, now), resource_id=finding_id(finding.key)
            )
        except (Conflict, IntegrityError):  # written before, or by a run racing this one
            savepoint.rollback()
            already += 1
            continue
        savepoint.commit()
        created += 1
    return Recorded(created, already)


def audit_day(store: FhirStore, day: date, facility: str | None = None) -> list[Finding]:
    """The rules over the claims settled on ``day``: the findings naming one of them.
    :class:`FhirError` (422) when no policy version, or one without the section, is in force."""
    try:
        policy, params = _policy_on(day)
    except AuditNotConfigured as exc:
        raise FhirError(str(exc), status=422, code="business-rule") from None
    data, of_day = load_day(store, day, params, facility)
    found = [f for f in run_rules(data, policy) if of_day & set(f.claims)]
    return found + _sampled(data, of_day, found, params)


def _sampled(
    data: AuditData, claims: Iterable[str], found: list[Finding], params: ClaimsAuditParams
) -> list[Finding]:
    """The manual-review sample among ``claims`` that no finding names."""
    flagged = {c for f in found for c in f.claims}
    wanted = set(claims)
    key = sample_key(get_settings().blind_index_key.encode())
    of_claims = [c for c in data.claims if c.id in wanted]
    return sample_findings(of_claims, flagged, params.manual_review_sample, key)


def audit_claim(store: FhirStore, claim_id: str) -> list[Finding]:
    """The incremental run after one settlement: the findings naming that claim (none when the
    policy in force runs no audit: the claim leaves the queue all the same)."""
    return _audited(store, claim_id) or []


def _audited(store: FhirStore, claim_id: str) -> list[Finding] | None:
    """The findings naming the claim, or None when it was not audited (not a settled claim,
    no audit in force): then nothing it found before may be taken as disproved."""
    try:
        _, params = _policy_on(datetime.now(UTC).date())  # today's look-back window
        data = load_claim(store, claim_id, params)
        if data is None:
            return None
        policy, of_day = _policy_on(next(c.created for c in data.claims if c.id == claim_id))
        matching = of_day.prescription_match
        if matching.enabled and not params.prescription_match.enabled:
            # the claim's day matches prescriptions, today's version does not: load them, or
            # every drug of the claim would look unprescribed
            data = load_claim(
                store, claim_id, params.model_copy(update={"prescription_match": matching})
            )
    except AuditNotConfigured:
        return None
    if data is None:
        return None
    found = implicating(run_rules(data, policy), claim_id)
    return found + _sampled(data, [claim_id], found, of_day)


@dataclass(frozen=True)
class Reaudited:
    created: int
    closed: int


def reaudit_claim(store: FhirStore, claim_id: str) -> Reaudited:
    """Audit the claim (after its settlement, or again when a late record of its encounter
    arrived), record what is new, and close each open finding naming it that rested on a
    missing record and is no longer found: the late record disproved it. Findings an auditor
    reviewed, and findings not resting on a missing record, are left as they are."""
    findings = _audited(store, claim_id)
    if findings is None:
        return Reaudited(0, 0)
    created = record_findings(store, findings).created
    still = {finding_id(f.key) for f in findings}
    query = [("implicated", f"Claim/{claim_id}"), ("status", "preliminary"), ("_count", "100")]
    now = datetime.now(UTC)
    closed = 0
    for match in store.search("DetectedIssue", query).matches:
        issue = match.as_dict()
        if match.resource_id in still or not rests_on_absence(issue):
            continue
        note = (
            f"closed by the hub's claims audit on {now.date().isoformat()}: a re-run of "
            f"Claim/{claim_id} after later data no longer finds it"
        )
        store.update(
            "DetectedIssue", match.resource_id, disproved(issue, note, now),
            if_match=match.version_id,
        )  # fmt: skip
        closed += 1
    return Reaudited(created, closed)


def review_finding(store: FhirStore, issue_id: str, review: Review) -> dict[str, object]:
    """An insurance auditor confirms or dismisses an open finding, once."""
    if store.actor.role is not Role.insurance_auditor:
        raise Forbidden("findings are reviewed by insurance auditors")
    current = store.read("DetectedIssue", issue_id)
    now = datetime.now(UTC)
    try:
        changed = reviewed(current.as_dict(), review, now)
    except ReviewRefused as exc:
        if exc.conflict:
            raise Conflict(str(exc)) from None
        raise FhirError(str(exc), status=422, code="business-rule") from None
    done = mitigations(store, current.as_dict(), review, now)
    if done:
        changed["mitigation"] = [*(changed.get("mitigation") or []), *done]
    stored, _ = store.update("DetectedIssue", issue_id, changed, if_match=current.version_id)
    return stored.as_dict()
