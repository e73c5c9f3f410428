"""One finding's evidence for the fund auditor, and a facility's day of reconciliation.

The evidence is the finding (``DetectedIssue``) and every record it implicates -- the claims,
encounters, dispenses and prescriptions -- each read through the store as the auditor (each
read audited; one the actor may not see is shown as withheld), reduced to what an auditor
compares side by side. The reconciliation is the hub's stored answer for the day
(``PaymentReconciliation``, read through the store), run again through the claims audit's
service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hub.console.queries.reads import Shown, read_shown
from hub.errors import NotFound
from hub.fhir.store import FhirStore
from insurance.claims_audit import reconcile_fhir
from insurance.claims_audit.detected_issue import EXT_REVIEW
from insurance.claims_audit.reconcile_service import rerun_reconciliation
from insurance.claims_audit.report_figures import FindingFacts, finding_facts
from insurance.money import to_fen

EVIDENCE_TYPES = ("Claim", "Encounter", "MedicationDispense", "MedicationRequest")
MAX_RECORDS = 20  # per type: a finding names a few; the rest are listed by reference only


@dataclass(frozen=True)
class Record:
    reference: str
    shown: bool
    why_not: str
    facts: list[tuple[str, str]] = field(default_factory=list)  # (label key, value)
    lines: list[tuple[str, str, str, str, str]] = field(default_factory=list)  # claim items


@dataclass(frozen=True)
class Evidence:
    issue: dict[str, Any]
    facts: FindingFacts | None
    review: dict[str, str]  # outcome, reason, recover, reviewer, date (empty while open)
    records: dict[str, list[Record]]  # by type, in EVIDENCE_TYPES order


def finding_evidence(store: FhirStore, issue_id: str) -> Evidence:
    """The finding (404 as the API's) and what it implicates."""
    issue = store.read("DetectedIssue", issue_id).as_dict()
    references = [str((r or {}).get("reference") or "") for r in issue.get("implicated") or []]
    records: dict[str, list[Record]] = {t: [] for t in EVIDENCE_TYPES}
    for reference in references:
        kind, _, rid = reference.partition("/")
        if kind in records and rid and len(records[kind]) < MAX_RECORDS:
            records[kind].append(_record(read_shown(store, kind, rid)))
    return Evidence(issue, finding_facts(issue), _review_of(issue), records)


def _review_of(issue: dict[str, Any]) -> dict[str, str]:
    for extension in issue.get("extension") or []:
        if extension.get("url") == EXT_REVIEW:
            parts = {p.get("url"): p for p in extension.get("extension") or []}
            recover = (parts.get("recover") or {}).get("valueMoney") or {}
            return {
                "outcome": str((parts.get("outcome") or {}).get("valueCode") or ""),
                "reason": str((parts.get("reason") or {}).get("valueString") or ""),
                "recover_fen": str(to_fen(recover.get("value", 0))),
                "reviewer": str((parts.get("reviewer") or {}).get("valueString") or ""),
                "date": str((parts.get("date") or {}).get("valueDateTime") or ""),
            }
    return {}


def _coded(concept: Any) -> str:
    """``code text`` of a CodeableConcept: its first coding's code and the words, once."""
    if not isinstance(concept, dict):
        return ""
    codings = concept.get("coding") or []
    first = codings[0] if codings else {}
    code = str(first.get("code") or "")
    text = str(concept.get("text") or first.get("display") or "")
    return code if text in ("", code) else f"{code} {text}".strip()


def _ref(value: Any) -> str:
    return str((value or {}).get("reference") or "") if isinstance(value, dict) else ""


def _money(value: Any) -> str:
    return f"{(value or {}).get('value', '')}" if isinstance(value, dict) else ""


def _period(value: Any) -> str:
    period = value if isinstance(value, dict) else {}
    return f"{period.get('start', '')} – {period.get('end', '')}".strip(" –")


def _record(shown: Shown) -> Record:
    resource = shown.resource
    if resource is None:
        return Record(shown.reference, False, str(shown.why_not))
    kind = resource.get("resourceType")
    if kind == "Claim":
        return _claim(shown.reference, resource)
    if kind == "Encounter":
        facts = [
            ("class", str((resource.get("class") or {}).get("code") or "")),
            ("period", _period(resource.get("period"))),
            ("provider", _ref(resource.get("serviceProvider"))),
            ("reason", ", ".join(_coded(r) for r in resource.get("reasonCode") or [])),
            ("status", str(resource.get("status") or "")),
        ]
    elif kind == "MedicationDispense":
        facts = [
            ("drug", _coded(resource.get("medicationCodeableConcept"))),
            ("quantity", str((resource.get("quantity") or {}).get("value", ""))),
            ("days_supply", str((resource.get("daysSupply") or {}).get("value", ""))),
            ("handed_over", str(resource.get("whenHandedOver") or "")),
            ("encounter", _ref(resource.get("context"))),
            ("performer", ", ".join(_ref(p.get("actor")) for p in resource.get("performer") or [])),
        ]  # fmt: skip
    else:  # MedicationRequest
        request = resource.get("dispenseRequest") or {}
        facts = [
            ("drug", _coded(resource.get("medicationCodeableConcept"))),
            ("status", str(resource.get("status") or "")),
            ("authored", str(resource.get("authoredOn") or "")),
            ("quantity", str((request.get("quantity") or {}).get("value", ""))),
            ("encounter", _ref(resource.get("encounter"))),
        ]  # fmt: skip
    return Record(shown.reference, True, "", facts)


def _claim(reference: str, claim: dict[str, Any]) -> Record:
    facts = [
        ("created", str(claim.get("created") or "")),
        ("provider", _ref(claim.get("provider"))),
        ("patient", _ref(claim.get("patient"))),
        ("total", _money(claim.get("total"))),
        ("status", str(claim.get("status") or "")),
    ]
    lines = [
        (
            _coded(item.get("productOrService")),
            str(item.get("servicedDate") or _period(item.get("servicedPeriod"))),
            str((item.get("quantity") or {}).get("value", "")),
            _money(item.get("unitPrice")),
            ", ".join(_ref(e) for e in item.get("encounter") or []),
        )
        for item in claim.get("item") or []
    ]
    return Record(reference, True, "", facts, lines)


# -- reconciliation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    setl_id: str
    difference: str
    amounts: dict[str, str]  # facility-medfee_sumamt ... hub-acct_pay (yuan)


@dataclass(frozen=True)
class DayResult:
    facility: str
    day: date
    outcome: str  # complete (balanced) | partial
    disposition: str
    totals: dict[str, dict[str, str]]  # facility | hub -> count and amounts
    differences: list[Difference]


def day_result(store: FhirStore, facility: str, day: date) -> DayResult | None:
    """The hub's stored answer for the facility's day, None when there is none yet."""
    try:
        result = store.read(reconcile_fhir.TYPE, reconcile_fhir.result_id(facility, day))
    except NotFound:
        return None
    return parse_result(facility, day, result.as_dict())


def rerun(store: FhirStore, facility: str, day: date) -> DayResult:
    """Run the day again against the facility's stored upload (404 when there is none)."""
    return parse_result(facility, day, rerun_reconciliation(store, facility, day))


def _values(extension: dict[str, Any]) -> dict[str, str]:
    out = {}
    for part in extension.get("extension") or []:
        value = part.get("valueMoney", part.get("valueUnsignedInt", part.get("valueCode")))
        out[str(part.get("url"))] = _money(value) if isinstance(value, dict) else str(value)
    return out


def parse_result(facility: str, day: date, resource: dict[str, Any]) -> DayResult:
    totals: dict[str, dict[str, str]] = {}
    for extension in resource.get("extension") or []:
        if extension.get("url") == reconcile_fhir.EXT_TOTALS:
            totals = {str(t.get("url")): _values(t) for t in extension.get("extension") or []}
    differences = []
    for detail in resource.get("detail") or []:
        kinds = {e.get("url"): e for e in detail.get("extension") or []}
        differences.append(
            Difference(
                str((detail.get("identifier") or {}).get("value") or ""),
                str((kinds.get(reconcile_fhir.EXT_DIFFERENCE) or {}).get("valueCode") or ""),
                _values(kinds.get(reconcile_fhir.EXT_AMOUNTS) or {}),
            )
        )
    return DayResult(
        facility, day, str(resource.get("outcome") or ""), str(resource.get("disposition") or ""),
        totals, differences,
    )  # fmt: skip
