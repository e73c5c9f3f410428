"""The data steward's read models and actions: the patient index's review queue, an item's two
records side by side with the comparison that scored them, a person's links and history.

Everything goes through the patient index's stewardship services (``hub.mpi.stewardship``),
which audit each read and change in the caller's transaction, and the two Patients are read
through the store as the steward: scopes, consent and audit apply as for the API, and a record
the consent decision withholds is shown as withheld (its refusal audited like the API's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.console.queries.reads import read_shown
from hub.fhir.store import FhirStore
from hub.mpi import stewardship
from hub.mpi.errors import InvalidLinkRequest
from hub.mpi.stewardship import (
    LinkResult,
    MergeResult,
    PersonLinks,
    ReviewComparison,
    ReviewItem,
    ReviewPage,
    require_steward,
)

PAGE = 50


@dataclass(frozen=True)
class PatientCard:
    """One source record's Patient as the steward may see it."""

    reference: str | None
    shown: bool  # False: withheld (consent, scope) or no longer there
    why_not: str = ""  # "withheld" | "missing" | "none"
    names: list[str] = field(default_factory=list)
    gender: str = ""
    birth_date: str = ""
    identifiers: list[tuple[str, str]] = field(default_factory=list)  # (system, value)
    phones: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    organization: str = ""


@dataclass(frozen=True)
class ReviewDetail:
    item: ReviewItem
    comparison: ReviewComparison
    source: PatientCard
    candidate: PatientCard


def review_queue(store: FhirStore, *, status: str = "open", page: int = 1) -> ReviewPage:
    require_steward(store.actor)
    chosen = status if status in ("open", "claimed", "resolved") else None
    return stewardship.list_reviews(
        store.session, store.actor, status=chosen,  # type: ignore[arg-type]
        limit=PAGE, offset=(max(page, 1) - 1) * PAGE,
    )  # fmt: skip


def review_detail(store: FhirStore, review_id: int) -> ReviewDetail:
    require_steward(store.actor)
    item = stewardship.review_item(store.session, store.actor, review_id=review_id)
    comparison = stewardship.review_comparison(
        store.session, store.cipher, store.actor, review_id=review_id
    )
    candidate = comparison.candidate
    return ReviewDetail(
        item,
        comparison,
        patient_card(store, comparison.source.patient_id),
        patient_card(store, candidate.patient_id if candidate else None),
    )


def person_history(store: FhirStore, enterprise_id: str) -> PersonLinks:
    require_steward(store.actor)
    return stewardship.person_links(store.session, store.actor, enterprise_id=enterprise_id)


# -- actions: each one stewardship service call, which audits it -------------------------------


def resolve(store: FhirStore, review_id: int, resolution: str, reason: str) -> ReviewItem:
    """``match`` (link the source to the candidate) or ``no-match`` (keep them apart)."""
    require_steward(store.actor)
    if resolution not in ("match", "no-match"):
        raise InvalidLinkRequest("resolution must be 'match' or 'no-match'",
                                 expression=["resolution"])  # fmt: skip
    return stewardship.resolve_review(
        store.session, store.cipher, store.actor, review_id=review_id,
        resolution=resolution, reason=reason,  # type: ignore[arg-type]
    )  # fmt: skip


def merge(store: FhirStore, from_eid: str, into_eid: str, reason: str) -> MergeResult:
    require_steward(store.actor)
    return stewardship.merge_persons(
        store.session, store.cipher, store.actor, from_eid=from_eid, into_eid=into_eid,
        reason=reason,
    )  # fmt: skip


def split(
    store: FhirStore, enterprise_id: str, sources: Sequence[tuple[str, str]], reason: str
) -> LinkResult:
    require_steward(store.actor)
    return stewardship.split_person(
        store.session, store.cipher, store.actor, enterprise_id=enterprise_id,
        sources=list(sources), reason=reason,
    )  # fmt: skip


def undo(store: FhirStore, merge_id: int, reason: str) -> MergeResult:
    require_steward(store.actor)
    return stewardship.undo_merge(
        store.session, store.cipher, store.actor, event_id=merge_id, reason=reason
    )


# -- one Patient, as the store shows it to the steward ------------------------------------------


def patient_card(store: FhirStore, patient_id: str | None) -> PatientCard:
    if not patient_id:
        return PatientCard(None, False, "none")
    shown = read_shown(store, "Patient", patient_id)
    if shown.resource is None:
        return PatientCard(shown.reference, False, str(shown.why_not))
    return _card(shown.reference, shown.resource)


def _card(reference: str, patient: dict[str, Any]) -> PatientCard:
    names = [
        str(n.get("text") or "".join([n.get("family") or "", *(n.get("given") or [])]))
        for n in patient.get("name") or []
    ]
    return PatientCard(
        reference,
        True,
        names=[n for n in names if n],
        gender=str(patient.get("gender") or ""),
        birth_date=str(patient.get("birthDate") or ""),
        identifiers=[
            (str(i.get("system") or ""), str(i.get("value") or ""))
            for i in patient.get("identifier") or []
        ],
        phones=[str(t.get("value")) for t in patient.get("telecom") or [] if t.get("value")],
        addresses=[
            str(a.get("text") or " ".join([*(a.get("line") or []), a.get("city") or ""]))
            for a in patient.get("address") or []
        ],
        organization=str((patient.get("managingOrganization") or {}).get("reference") or ""),
    )
