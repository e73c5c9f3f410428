"""The consent filter of a search: the decisions for the patients a search reaches, compiled
into one SQL condition with the store's pieces (``hub.fhir.search.consent_filter``).

It is built from the decisions for the patients of the matches who hold consents (one query
finds them, one loads their rules) and the regional default for everyone else, per sensitivity
label; ``ConsentGuard.screen`` then checks every row of the page exactly, so where SQL and the
decision could differ (several labels on one resource) the difference can only withhold, never
reveal. Paging and totals count only what the caller may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, not_, or_, true

from consent.pdp import decide_access
from consent.service import rules_for
from hub.fhir.access import PATIENT
from hub.fhir.registry import ResourceDef
from hub.fhir.search.consent_filter import PatientQuery

if TYPE_CHECKING:
    from consent.enforcement import ConsentGuard

MAX_CONSENTED_PATIENTS = 10_000  # patients with consents evaluated for one search


def search_condition(
    guard: ConsentGuard, resource_type: str, definition: ResourceDef, where: Sequence[Any]
) -> ColumnElement[bool] | None:
    """SQL keeping only the rows (matching ``where``) ``guard``'s decisions let through."""
    compartment = tuple(definition.patient_compartment)
    if resource_type != PATIENT and not compartment:
        return None  # directory data (Organization, Practitioner, ...): no patient's data
    query = PatientQuery(resource_type, compartment)
    consented = list(
        guard.session.execute(query.consented_among(where).limit(MAX_CONSENTED_PATIENTS + 1))
        .scalars()
        .all()
    )
    # Beyond the limit the patients with consents are not decided one by one: their data is
    # left out of this search (never shown undecided); a search by patient finds it.
    crowd = len(consented) > MAX_CONSENTED_PATIENTS
    if crowd:
        consented = []
        guard.tally.withheld_by_query = True
    rules = rules_for(guard.session, consented)
    labels = set(guard.policy.sensitive_labels)
    for patient_rules in rules.values():
        for rule in patient_rules:
            labels |= rule.labels or set()
    ordered_labels = sorted(labels)

    def permits(patient: str | None, label: str | None, reference: str | None = None) -> bool:
        request = guard.access_request(
            resource_type,
            patient or "",
            labels=frozenset({label}) if label else frozenset(),
            reference=reference,
        )
        # Break-glass is flagged by the screening of what is actually returned, not here.
        return decide_access(request, rules.get(patient or "", []), guard.policy).permitted

    base = {p: permits(p, None) for p in consented}
    base_deny = [p for p in consented if not base[p]]
    label_deny: dict[str, list[str]] = {label: [] for label in ordered_labels}
    sensitive = guard.policy.sensitive_labels
    for patient in consented:
        # A label none of this patient's provisions names is decided like any other of its
        # kind: every such sensitive class alike, any other label like unlabelled data.
        named = {label for rule in rules[patient] for label in rule.labels or ()}
        generic = next((label for label in sorted(sensitive) if label not in named), None)
        as_sensitive = permits(patient, generic) if generic is not None else True
        for label in ordered_labels:
            if label in named:
                allowed = permits(patient, label)
            else:
                allowed = as_sensitive if label in sensitive else base[patient]
            if not allowed:
                label_deny[label].append(patient)
    allow_ids: list[str] = []
    deny_ids: list[str] = []
    prefix = f"{resource_type}/"
    for patient in consented:
        for rule in rules[patient]:
            for reference in rule.data or ():
                if reference.startswith(prefix):
                    permitted = permits(patient, None, reference)
                    target = allow_ids if permitted else deny_ids
                    target.append(reference.removeprefix(prefix))
    # For the audit: the consents that kept a patient's (non-sensitive) data out. Sensitive
    # classes withheld by the regional default are not "withheld" news on every search.
    for patient in base_deny:
        for rule in rules[patient]:
            guard.tally.consents[f"Consent/{rule.consent_id}"] = None
    if base_deny or deny_ids:
        guard.tally.withheld_by_query = True

    # Rows about a consented patient outside ``consented`` do not exist among the matches,
    # so "a patient without consent" is "not one of ``consented``" (a literal list), except
    # past the limit, where the list is unknown.
    query.known_consented = None if crowd else consented
    clauses: list[ColumnElement[bool]] = []
    default_base = permits(None, None)
    if base_deny or not default_base or crowd:
        refs = query.refers_to(base_deny, not default_base, crowd)
        clauses.append(or_(query.has_label(ordered_labels), not_(refs)))
    # One clause per group of labels decided alike (usually: every sensitive class, denied
    # by default), rather than one per label: fewer subqueries to build and to run.
    groups: dict[tuple[tuple[str, ...], bool], list[str]] = {}
    for label in ordered_labels:
        key = (tuple(label_deny[label]), permits(None, label))
        groups.setdefault(key, []).append(label)
    for (denied, default), members in groups.items():
        if denied or not default or crowd:
            refs = query.refers_to(list(denied), not default, crowd)
            clauses.append(not_(and_(query.has_label(members), refs)))
    if not clauses and not deny_ids:
        return None
    decided: ColumnElement[bool] = and_(*clauses) if clauses else true()
    if allow_ids:
        decided = or_(query.id_in(allow_ids), decided)
    if deny_ids:
        decided = and_(query.id_not_in(deny_ids), decided)
    exempt: list[ColumnElement[bool]] = [query.about_no_patient()]
    if guard.policy.own_records_visible:
        exempt.append(query.recorded_by(guard.actor.facility))
    return or_(*exempt, decided)
