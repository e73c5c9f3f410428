"""The national interface's reads and writes of the hub's store: insured persons (Coverage),
visits (Encounter) and fee lines (ChargeItem). Every one goes through the caller's store, so
authorization, consent and audit apply as to any FHIR request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.fhir.store import FhirStore
from insurance.national.envelope import REGION_TZ, Envelope, NationalError
from insurance.national.fees import CANCELLED, FEE_LINE_SYSTEM, batch_of, feedetl_sn_of, line_key
from insurance.national.visit import VISIT_SYSTEM
from insurance.resources import INSURED_PERSON_SYSTEM, CoverageTerms, coverage_terms, reference
from insurance.settlement import ledger

MOST_LINES = "1000"  # fee lines of one visit read in one page (the store's largest page)


@dataclass(frozen=True)
class Insured:
    psn_no: str
    patient_id: str
    coverage_id: str
    terms: CoverageTerms


def _first(store: FhirStore, resource_type: str, query: list[tuple[str, str]]) -> Any:
    found = store.search(resource_type, query).matches
    return found[0].as_dict() if found else None


def insured(store: FhirStore, envelope: Envelope, psn_no: str, *, active: bool) -> Insured:
    """The person ``psn_no`` names, from their Coverage; refuses another insured region and,
    when ``active``, a Coverage that is not in force."""
    coverage = _first(store, "Coverage", [("identifier", f"{INSURED_PERSON_SYSTEM}|{psn_no}")])
    if coverage is None:
        raise NationalError(f"psn_no {psn_no}: no such insured person")
    terms = coverage_terms(coverage)
    if envelope.insuplc_admdvs and terms.region and envelope.insuplc_admdvs != terms.region:
        raise NationalError(f"insuplc_admdvs {envelope.insuplc_admdvs} is not psn_no's region")
    if active and not terms.active:
        raise NationalError(f"psn_no {psn_no}: the coverage is not active")
    patient_id = terms.beneficiary.removeprefix("Patient/")
    return Insured(psn_no, patient_id, terms.coverage_id, terms)


def psn_no_of(coverage: dict[str, Any]) -> str:
    ids = coverage.get("identifier") or []
    return next((str(i["value"]) for i in ids if i.get("system") == INSURED_PERSON_SYSTEM), "")


def coverage_of(store: FhirStore, patient_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = _first(
        store, "Coverage", [("beneficiary", f"Patient/{patient_id}")]
    )
    return found


def patient_by_identifier(store: FhirStore, system: str, value: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = _first(store, "Patient", [("identifier", f"{system}|{value}")])
    return found


def account_balance(store: FhirStore, person: Insured, now: datetime) -> int:
    """The personal account's balance now (a new person's accumulator row is not kept)."""
    savepoint = store.session.begin_nested()
    try:
        key = ledger.AccountKey(person.patient_id, now.year, person.terms.scheme)
        return ledger.accumulators(store.session, key, person.terms.account_balance).account_balance
    finally:
        savepoint.rollback()


def visit_by_id(store: FhirStore, mdtrt_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = _first(
        store, "Encounter", [("identifier", f"{VISIT_SYSTEM}|{mdtrt_id}")]
    )
    return found


def visit(store: FhirStore, envelope: Envelope, mdtrt_id: str, person: Insured) -> dict[str, Any]:
    """The registered visit ``mdtrt_id`` of this person at this facility, not cancelled."""
    found = visit_by_id(store, mdtrt_id)
    if (
        found is None
        or reference(found.get("serviceProvider")) != f"Organization/{envelope.fixmedins_code}"
        or reference(found.get("subject")) != f"Patient/{person.patient_id}"
    ):
        raise NationalError(f"mdtrt_id {mdtrt_id}: no such visit of psn_no {person.psn_no} here")
    if found.get("status") == "cancelled":
        raise NationalError(f"mdtrt_id {mdtrt_id}: the visit was cancelled (2202)")
    return found


def fee_lines(store: FhirStore, encounter_id: str, batch: str | None) -> list[dict[str, Any]]:
    """The visit's fee lines not cancelled (of one batch, or all), by ``feedetl_sn``: the
    same order on every read, so a retried 2207 builds the same Claim."""
    result = store.search(
        "ChargeItem", [("context", f"Encounter/{encounter_id}"), ("_count", MOST_LINES)]
    )
    if result.more:
        raise NationalError("the visit has more fee lines than one settlement takes")
    lines = [m.as_dict() for m in result.matches]
    lines = [i for i in lines if i.get("status") != CANCELLED]
    lines = [i for i in lines if batch is None or batch_of(i) == batch]
    return sorted(lines, key=feedetl_sn_of)


def fee_line_by_key(store: FhirStore, mdtrt_id: str, feedetl_sn: str) -> dict[str, Any] | None:
    matches = store.search(
        "ChargeItem", [("identifier", f"{FEE_LINE_SYSTEM}|{line_key(mdtrt_id, feedetl_sn)}")]
    ).matches
    live = [m.as_dict() for m in matches if m.as_dict().get("status") != CANCELLED]
    return live[0] if live else None


def set_status(store: FhirStore, resource_type: str, resource: dict[str, Any], status: str) -> None:
    """Change the status of ``resource`` as it was read: If-Match its version, so when two
    messages (say two 2207s with different msgids for one fee batch) race, the second fails
    with 412 and its whole transaction, settlement included, rolls back."""
    version = int((resource.get("meta") or {}).get("versionId") or 1)
    store.update(
        resource_type, str(resource["id"]), dict(resource, status=status), if_match=version
    )


def local_time(stored: dict[str, Any]) -> str:
    """When a stored resource was written, as the platform's ``yyyy-MM-dd HH:mm:ss``."""
    written = str((stored.get("meta") or {}).get("lastUpdated") or datetime.now(UTC).isoformat())
    moment = datetime.fromisoformat(written.replace("Z", "+00:00"))
    return moment.astimezone(REGION_TZ).strftime("%Y-%m-%d %H:%M:%S")
