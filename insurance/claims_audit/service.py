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
    finding_id,
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
    try:
        _, params = _policy_on(datetime.now(UTC).date())  # today's look-back window
        data = load_claim(store, claim_id, params)
        if data is None:
            return []
        policy, params = _policy_on(next(c.created for c in data.claims if c.id == claim_id))
    except AuditNotConfigured:
        return []
    found = implicating(run_rules(data, policy), claim_id)
    return found + _sampled(data, [claim_id], found, params)


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
