"""A confirmed finding's recovery, written through the store, and a facility's total.

The reviewer (an insurance auditor) reads the implicated Claims; the recovery record is written
by the hub's reconciliation identity, since an auditor writes nothing but reviews. Both happen
in the review's transaction: a review refused later (a conflict) leaves no recovery behind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.fhir.store import FhirStore
from insurance.claims_audit import recovery
from insurance.claims_audit.detected_issue import Outcome, Review
from insurance.claims_audit.reconcile_fhir import TYPE
from insurance.claims_audit.reconcile_service import RECONCILE_ACTOR
from insurance.claims_audit.recovery import RECOVERY_SYSTEM


def _claims(issue: dict[str, Any]) -> list[str]:
    refs = [str((i or {}).get("reference", "")) for i in issue.get("implicated") or []]
    return [r.removeprefix("Claim/") for r in refs if r.startswith("Claim/")]


def _facility(issue: dict[str, Any]) -> str:
    for evidence in issue.get("evidence") or []:
        for detail in evidence.get("detail") or []:
            reference = str((detail or {}).get("reference", ""))
            if reference.startswith("Organization/"):
                return reference.removeprefix("Organization/")
    return ""


def mitigations(
    store: FhirStore, issue: dict[str, Any], review: Review, now: datetime
) -> list[dict[str, Any]]:
    """What a confirmation leads to: a link to each implicated claim's reversal when its
    settlement was reversed, else a recovery record of the amount (none for no amount)."""
    if review.outcome is not Outcome.CONFIRMED:
        return []
    claims = _claims(issue)
    found = []
    for claim_id in claims:
        claim = store.read("Claim", claim_id)
        if claim.as_dict().get("status") == "cancelled":
            record = f"Claim/{claim_id}/_history/{claim.version_id}"
            found.append(recovery.mitigation(recovery.REVERSAL, record, review.reviewer, now))
    if found or not review.recover_fen or not claims:
        return found
    body = recovery.recovery_resource(
        str(issue["id"]), _facility(issue), claims[0], review.recover_fen, now
    )
    hub = FhirStore(store.session, RECONCILE_ACTOR, store.cipher, store.base_url)
    stored = hub.create(TYPE, body, resource_id=body["id"])
    record = f"{TYPE}/{stored.resource_id}"
    return [recovery.mitigation(recovery.RECOVERY, record, review.reviewer, now)]


def recovery_total(store: FhirStore, facility: str) -> int:
    """Fen recovered from ``facility`` (every recovery record, read as the caller)."""
    query = [
        ("requestor", f"Organization/{facility}"),
        ("identifier", f"{RECOVERY_SYSTEM}|"),
        ("_count", "1000"),
    ]
    records: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = store.search(TYPE, [*query, ("_offset", str(offset))])
        records.extend(m.as_dict() for m in page.matches)
        if not page.more:
            return recovery.recovered_fen(records)
        offset += len(page.matches)
