"""The monthly report from the store: the findings of the trend's months (counted and summed
by the database, ``finding_tallies``), the month's settled claims and encounters, the region's
facilities; the figures are :mod:`monthly_report`'s.

Everything is read through the caller's store, so its scopes, consent and audit apply to each
search and tally; the report itself adds one audit record (an ``operation`` on DetectedIssue
naming the parameters asked). The API calls it as the auditor who asked; the CLI as
:data:`REPORT_ACTOR`, a read-only hub identity, like ``hub insurance audit`` runs as the hub's
claims-audit identity.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hub.audit.service import AuditEntry, record_access
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.errors import Forbidden
from hub.fhir.store import FhirStore
from hub.region.facilities import load_facilities
from insurance.claims_audit.finding_tallies import finding_groups, findings_per_day
from insurance.claims_audit.loading import load_settled
from insurance.claims_audit.monthly_report import MonthlyReport, build_report
from insurance.claims_audit.peer_figures import READMISSION_DAYS, facility_facts
from insurance.claims_audit.report_figures import Month, by_month, trailing_months
from insurance.policy import ItemKind
from insurance.policy_source import configured_policy

REPORT_READERS = frozenset({Role.insurance_auditor, Role.operator, Role.auditor})
DRUG_KINDS = frozenset({ItemKind.WESTERN_DRUG, ItemKind.PATENT_CHINESE_MEDICINE})
REPORT_ACTOR = Actor.build(
    client_id="hub-claims-report",
    facility="HUB",
    role=Role.operator,
    scope="system/Claim.rs system/Encounter.rs system/DetectedIssue.rs",
)


def require_report_reader(actor: Actor) -> None:
    if actor.role not in REPORT_READERS:
        raise Forbidden("the claims-audit report is for insurance auditors, operators and auditors")


def drug_codes() -> frozenset[str]:
    """The catalogue's drug codes, of every policy version (a code keeps its kind)."""
    versions = configured_policy().versions
    return frozenset(i.code for v in versions for i in v.catalogue if i.kind in DRUG_KINDS)


def monthly_report(store: FhirStore, month: Month, facility: str | None = None) -> MonthlyReport:
    record_report_read(store, facility)
    return count_report(store, month, facility)


def record_report_read(store: FhirStore, facility: str | None = None) -> None:
    """Refuse a caller who may not read the report, audit one who may: on every view, also of
    figures counted earlier (the console keeps them a few minutes)."""
    require_report_reader(store.actor)
    asked = "month,facility" if facility else "month"
    record_access(
        store.session, AuditEntry(store.actor, "operation", "DetectedIssue", query_params=asked)
    )


def count_report(store: FhirStore, month: Month, facility: str | None = None) -> MonthlyReport:
    """The report's figures (after :func:`record_report_read`)."""
    months = trailing_months(month)
    # Identified since the trend's first month (a finding is identified after its service).
    query = [("identified", f"ge{months[0].first_day.isoformat()}")]
    query += [("facility", f"Organization/{facility}")] if facility else []
    of_month = finding_groups(store, [*query, ("service-day", str(month))], month.first_day)
    days = findings_per_day(store, query)
    trend = by_month([d for d in days if months[0].first_day <= d.day < month.end], months)
    claims, encounters = load_settled(store, month.first_day, month.end, READMISSION_DAYS)
    return build_report(
        month,
        of_month,
        claims,
        encounters,
        drug_codes=drug_codes(),
        facilities={f.code: facility_facts(f) for f in load_facilities()},
        generated=datetime.now(UTC),
        facility=facility,
        trend=trend,
    )
