"""The consent filter of a search: the decisions for the patients whose consents can reach the
caller, compiled into one SQL condition with the store's pieces
(``hub.fhir.search.consent_filter``).

The patients come from the consent summary (``consent.summary``): one query finds every Patient
record whose person holds an active Consent that may apply to the caller's facility at this
moment, with the shapes of those Consents. The decision point (``consent.pdp``) then decides
once per distinct set of shapes -- unlabelled data, each sensitivity label, each resource a
provision names -- not once per patient, and every other patient gets the regional default.
``ConsentGuard.screen`` then checks every row of the page exactly, so where SQL and the decision
could differ (several labels on one resource) the difference can only withhold, never reveal.
Paging and totals count only what the caller may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, not_, or_, true, union
from sqlalchemy.orm import Session

from consent.pdp import ConsentRule, decide_access
from consent.summary import ConsentedPatients, consented_patients, reaching_records, rules_of_shape
from hub.fhir.access import PATIENT
from hub.fhir.registry import ResourceDef
from hub.fhir.search.consent_filter import PatientQuery, Rows
from hub.fhir.system_reads import StoreSystemReads
from hub.mpi.lookup import records_linked_to, same_person_records

if TYPE_CHECKING:
    from consent.enforcement import ConsentGuard

MAX_CONSENTED_PATIENTS = 10_000  # patients with consents evaluated for one search
BROAD_SEARCH = 1_000  # matches from which the filter is one set of denied rows, built once

Shapes = frozenset[str]


@dataclass
class _Verdicts:
    """What one set of consent shapes decides for the search's resource type."""

    base: bool
    labels: dict[str, bool]


def search_condition(
    guard: ConsentGuard,
    resource_type: str,
    definition: ResourceDef,
    where: Sequence[Any],
    *,
    nested: bool = False,
) -> ColumnElement[bool] | None:
    """SQL keeping only the rows (matching ``where``) ``guard``'s decisions let through.

    ``nested``: the target of a chained search, whose SQL sits inside the outer search's: it
    takes the per-row form, since the broad form repeats ``where`` and, nested inside an outer
    broad form, overflowed SQLite's parser (a 500 on a chained search over 1,000 rows)."""
    compartment = tuple(definition.patient_compartment)
    if resource_type != PATIENT and not compartment:
        return None  # directory data (Organization, Practitioner, ...): no patient's data
    query = PatientQuery(resource_type, compartment, guard.session.get_bind().dialect.name)
    broad = not nested and query.count_matched(guard.session, where, BROAD_SEARCH) >= BROAD_SEARCH
    people = _people(guard, resource_type, query, where, broad)
    # Beyond the limit the patients with consents are not decided one by one: their data is
    # left out of this search (never shown undecided); a search by patient finds it.
    crowd = people.crowd
    if crowd:
        guard.tally.withheld_by_query = True
    shapes = {p: frozenset(shape for _, shape in c) for p, c in people.consents.items()}
    rules = {
        key: [r for shape in key for r in rules_of_shape(shape)] for key in set(shapes.values())
    }
    labels = set(guard.policy.sensitive_labels)
    for key_rules in rules.values():
        for rule in key_rules:
            labels |= rule.labels or set()
    ordered_labels = sorted(labels)

    def permits(rule_set: Sequence[ConsentRule], label: str | None, ref: str | None = None) -> bool:
        request = guard.access_request(
            resource_type, "", labels=frozenset({label}) if label else frozenset(), reference=ref
        )
        # Break-glass is flagged by the screening of what is actually returned, not here.
        return decide_access(request, rule_set, guard.policy).permitted

    def verdicts(rule_set: Sequence[ConsentRule]) -> _Verdicts:
        base = permits(rule_set, None)
        # A label none of these provisions names is decided like any other of its kind:
        # every such sensitive class alike, any other label like unlabelled data.
        named = {label for rule in rule_set for label in rule.labels or ()}
        sensitive = guard.policy.sensitive_labels
        generic = next((label for label in sorted(sensitive) if label not in named), None)
        as_sensitive = permits(rule_set, generic) if generic is not None else True
        by_label = {
            label: permits(rule_set, label)
            if label in named
            else (as_sensitive if label in sensitive else base)
            for label in ordered_labels
        }
        return _Verdicts(base, by_label)

    decided_by = {key: verdicts(rule_set) for key, rule_set in rules.items()}
    consented = sorted(shapes)
    base_deny = [p for p in consented if not decided_by[shapes[p]].base]
    label_deny = {
        label: [p for p in consented if not decided_by[shapes[p]].labels[label]]
        for label in ordered_labels
    }
    # A resource a provision names (``data``) is decided on its own, exactly, as the page's
    # screening will: its labels and every patient it is about count, which no SQL clause knows.
    prefix = f"{resource_type}/"
    named_ids = {
        reference.removeprefix(prefix)
        for rule_set in rules.values()
        for rule in rule_set
        for reference in rule.data or ()
        if reference.startswith(prefix)
    }
    allow_ids, deny_ids = _decided_one_by_one(guard, resource_type, definition, named_ids)
    # For the audit: the consents that kept a patient's (non-sensitive) data out. Sensitive
    # classes withheld by the regional default are not "withheld" news on every search.
    for patient in base_deny:
        for consent_id, _ in sorted(people.consents[patient]):
            guard.tally.consents[f"Consent/{consent_id}"] = None
    if base_deny or deny_ids:
        guard.tally.withheld_by_query = True

    # "A patient without consent" is "not one of ``consented``" (a literal list), except past
    # the limit, where it is every patient the summary names for the caller (a subquery).
    if crowd:
        refs = sorted(guard.access_request(resource_type, "").actor_refs)
        named = reaching_records(refs, guard.moment)
        query.consented = union(named, records_linked_to(named))
    else:
        query.consented = consented
    default = verdicts([])
    # One clause per group of labels decided alike (usually: every sensitive class, denied
    # by default), rather than one per label: fewer subqueries to build and to run.
    groups: dict[tuple[tuple[str, ...], bool], list[str]] = {}
    for label in ordered_labels:
        key = (tuple(label_deny[label]), default.labels[label])
        groups.setdefault(key, []).append(label)
    denials = _Denials(
        base_deny,
        default.base,
        crowd,
        ordered_labels,
        [(list(p), allowed, members) for (p, allowed), members in groups.items()],
        allow_ids,
        deny_ids,
    )
    if not denials.any():
        return None
    own = guard.actor.facility if guard.policy.own_records_visible else None
    if broad:
        return _as_row_sets(query, denials, where, own, guard.session)
    return _as_row_tests(query, denials, own)


@dataclass(frozen=True)
class _Denials:
    """What the decisions deny, for the SQL: patients denied unlabelled data (and whether the
    regional default shares it), per group of labels the patients denied and the default."""

    base_deny: list[str]
    base_default: bool
    crowd: bool
    labels: list[str]
    groups: list[tuple[list[str], bool, list[str]]]  # (patients denied, default, labels)
    allow_ids: list[str]
    deny_ids: list[str]

    def base_denies(self) -> bool:
        return bool(self.base_deny) or not self.base_default or self.crowd

    def denying_groups(self) -> list[tuple[list[str], bool, list[str]]]:
        return [g for g in self.groups if g[0] or not g[1] or self.crowd]

    def any(self) -> bool:
        return self.base_denies() or bool(self.denying_groups()) or bool(self.deny_ids)


def _as_row_tests(query: PatientQuery, denials: _Denials, own: str | None) -> ColumnElement[bool]:
    """The condition as tests on each row: for a narrow search."""
    clauses: list[ColumnElement[bool]] = []
    if denials.base_denies():
        refs_sql = query.refers_to(denials.base_deny, not denials.base_default, denials.crowd)
        clauses.append(or_(query.has_label(denials.labels), not_(refs_sql)))
    for patients, allowed_by_default, members in denials.denying_groups():
        refs_sql = query.refers_to(patients, not allowed_by_default, denials.crowd)
        clauses.append(not_(and_(query.has_label(members), refs_sql)))
    decided: ColumnElement[bool] = and_(*clauses) if clauses else true()
    if own is not None:
        decided = or_(query.recorded_by(own), decided)
    if denials.deny_ids:
        decided = and_(query.id_not_in(denials.deny_ids), decided)
    if denials.allow_ids:
        decided = or_(query.id_in(denials.allow_ids), decided)
    return decided


def _as_row_sets(
    query: PatientQuery,
    denials: _Denials,
    where: Sequence[Any],
    own: str | None,
    session: Session,
) -> ColumnElement[bool]:
    """The same condition as one set of denied rows, built once: for a broad search."""
    matched = query.matched(where)
    denied: list[Rows] = []
    if denials.base_denies():
        wide = not denials.base_default or denials.crowd  # most of the table: bound it
        about = query.rows_about(
            denials.base_deny, not denials.base_default, denials.crowd, matched if wide else None
        )
        denied.append(query.but_not(about, query.labelled(denials.labels)))
    for patients, allowed_by_default, members in denials.denying_groups():
        labelled = query.labelled(members, matched)
        denied.append(query.rows_about(patients, not allowed_by_default, denials.crowd, labelled))
    decided: ColumnElement[bool] = true()
    if denied:
        refused = query.any_of(*denied)
        if own is not None:  # what the caller recorded itself, among the matches
            refused = query.but_not(refused, query.recorded_among(own, matched))
        decided = query.none_of(refused, session)
    if denials.deny_ids:
        decided = and_(query.id_not_in(denials.deny_ids), decided)
    if denials.allow_ids:
        decided = or_(query.id_in(denials.allow_ids), decided)
    return decided


def _decided_one_by_one(
    guard: ConsentGuard, resource_type: str, definition: ResourceDef, resource_ids: set[str]
) -> tuple[list[str], list[str]]:
    """(permitted, denied) of these resources, each decided as the page's screening does."""
    allowed: list[str] = []
    denied: list[str] = []
    stored = StoreSystemReads(guard.session).current_many(resource_type, sorted(resource_ids))
    for resource_id, resource in sorted(stored.items()):
        decision = guard.decide(resource, definition)
        (allowed if decision is None or decision.permitted else denied).append(resource_id)
    return allowed, denied


def _people(
    guard: ConsentGuard, resource_type: str, query: PatientQuery, where: Sequence[Any], broad: bool
) -> ConsentedPatients:
    """The patients whose consents can reach the caller now: for a narrow search those of
    the persons its matches are about; for a broad one every such patient of the region when
    they are few enough, else those among the matches."""
    session = guard.session
    refs = sorted(guard.access_request(resource_type, "").actor_refs)
    if not broad:
        matched = session.execute(query.patients_matched(where).distinct()).scalars().all()
        return consented_patients(
            session,
            refs,
            guard.moment,
            MAX_CONSENTED_PATIENTS,
            among=_persons_records(guard, matched),
        )
    people = consented_patients(session, refs, guard.moment, MAX_CONSENTED_PATIENTS)
    if not people.crowd:
        return people
    matched_sql = query.patients_matched(where)
    return consented_patients(
        session,
        refs,
        guard.moment,
        MAX_CONSENTED_PATIENTS,
        among=union(matched_sql, records_linked_to(matched_sql)),
    )


def _persons_records(guard: ConsentGuard, patients: Sequence[str]) -> list[str]:
    """Every record of the persons of ``patients`` (their consents follow the person)."""
    groups = same_person_records(guard.session, list(patients))
    return sorted({record for group in groups.values() for record in group})
