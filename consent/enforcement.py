"""The consent enforcement point: every read path of the store asks here (PIPL Art. 28-29).

``FhirStore`` builds one :class:`ConsentGuard` per unit of work (``store.guard``); the paths that
hand data out go through it, so none can forget the decision:

- :meth:`ConsentGuard.require` (read, vread, instance history, ``$everything``'s Patient): the
  decision for one resource; a deny raises :class:`hub.errors.ConsentRefused` (404, answered
  like an unknown id);
- :meth:`ConsentGuard.screen`: the same for each resource of a search page, an ``_include``, a
  history page, a Bundle's GET entry; denied ones are dropped, redactions applied;
- :meth:`ConsentGuard.search_condition`: SQL that leaves out what the decision would deny, so
  paging and totals count only what the caller may see. It is built from the decisions for the
  patients of the matches who hold consents (one query finds them, one loads their rules) and
  the regional default for everyone else, per sensitivity label; ``screen`` then checks every
  row of the page exactly, so where SQL and the decision could differ (several labels on one
  resource) the difference can only withhold, never reveal;
- :meth:`ConsentGuard.permits_patients` (the patient index: ``$match``, PIXm, person search): a
  person is shown only if every source record of it may be shown;
- :func:`disclosed` (outbound HL7 v2 and Subscription notifications): the receiving
  facility is the one asking, for treatment.

What the decisions rested on (effects, consents, break-glass, withheld resources) accumulates in
:attr:`ConsentGuard.tally` and goes into the audit record of the request (``FhirStore.audit``).

Not subject to consent: exempt roles (operators, auditors: regional policy), patient tokens (held
to their own compartment by ``hub.fhir.access``), and resources about no patient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import ColumnElement, and_, not_, or_, select, true
from sqlalchemy.orm import Session

from consent.pdp import (
    AccessRequest,
    Decision,
    Effect,
    decide_access,
    origin_facility,
)
from consent.policy import RegionalPolicy, get_policy
from consent.sensitivity import classify
from consent.service import rules_for
from consent.sql_filter import PatientQuery
from hub.audit.service import AuditEntry, record_access
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.errors import ConsentRefused, not_available
from hub.fhir.access import PATIENT, patients_of
from hub.fhir.models import ResourceRow
from hub.fhir.registry import ResourceDef
from hub.fhir.search_parameters import RESOURCE_DEFS

if TYPE_CHECKING:
    from hub.fhir.store import StoredResource

MAX_CONSENTED_PATIENTS = 10_000  # patients with consents evaluated for one search
REDACTED_LABEL = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "REDACTED",
}


@dataclass
class DecisionTally:
    """What the decisions of one request rested on, for its audit record."""

    effects: set[Effect] = field(default_factory=set)
    consents: dict[str, None] = field(default_factory=dict)  # ordered set of "Consent/<id>"
    denied: list[str] = field(default_factory=list)
    break_glass_reason: str | None = None
    withheld_by_query: bool = False  # a search condition left out some patients' data

    @property
    def decision(self) -> str | None:
        if not self.effects and not self.withheld_by_query:
            return None
        shown = self.effects - {Effect.DENY}
        if not shown:
            return str(Effect.DENY)
        if self.denied or self.withheld_by_query or Effect.PERMIT_WITH_REDACTION in shown:
            return str(Effect.PERMIT_WITH_REDACTION)
        return str(Effect.PERMIT)

    def add(self, decision: Decision, reference: str) -> None:
        self.effects.add(decision.effect)
        for consent_id in decision.consent_ids:
            self.consents[f"Consent/{consent_id}"] = None
        if not decision.permitted:
            self.denied.append(reference)
        if decision.break_glass:
            self.break_glass_reason = decision.break_glass_reason


def combine(decisions: Sequence[Decision]) -> Decision:
    """One decision for a resource about several patients: every patient's must permit."""
    if len(decisions) == 1:
        return decisions[0]
    denies = [d for d in decisions if not d.permitted]
    chosen = denies or list(decisions)
    redact = tuple(dict.fromkeys(path for d in decisions for path in d.redact))
    glass = next((d for d in decisions if d.break_glass), None)
    effect = Effect.DENY if denies else Effect.PERMIT
    if not denies and redact:
        effect = Effect.PERMIT_WITH_REDACTION
    return Decision(
        effect,
        tuple(reason for d in chosen for reason in d.reasons),
        tuple(dict.fromkeys(i for d in chosen for i in d.consent_ids)),
        glass is not None,
        glass.break_glass_reason if glass else None,
        redact if not denies else (),
    )


def redacted(resource: dict[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    """``resource`` without the elements at ``paths`` (``Encounter.reasonCode``), labelled."""
    copy = dict(resource)
    for path in paths:
        _, _, element = path.partition(".")
        copy.pop(element, None)
    meta = dict(copy.get("meta") or {})
    meta["security"] = [*(meta.get("security") or []), REDACTED_LABEL]
    copy["meta"] = meta
    return copy


def subject_to_consent(actor: Actor, policy: RegionalPolicy) -> bool:
    if actor.patient is not None or actor.role is Role.patient:
        return False  # the compartment rules of hub.fhir.access hold a patient to their own data
    return str(actor.role) not in policy.exempt_roles


class ConsentGuard:
    def __init__(
        self,
        session: Session,
        actor: Actor,
        base_url: str = "",
        policy: RegionalPolicy | None = None,
    ) -> None:
        self.session = session
        self.actor = actor
        self.base_url = base_url
        self.policy = policy or get_policy()
        self.active = subject_to_consent(actor, self.policy)
        self.moment = datetime.now(UTC)
        self.tally = DecisionTally()

    # -- single resources -----------------------------------------------------------------
    def _request(
        self,
        resource_type: str,
        patient_id: str,
        *,
        labels: frozenset[str] = frozenset(),
        element_labels: tuple[tuple[str, frozenset[str]], ...] = (),
        origin: str | None = None,
        reference: str | None = None,
    ) -> AccessRequest:
        return AccessRequest(
            actor_facility=self.actor.facility,
            actor_role=str(self.actor.role),
            patient_id=patient_id,
            resource_type=resource_type,
            moment=self.moment,
            purpose_of_use=self.actor.purpose_of_use,
            purpose_reason=self.actor.purpose_reason,
            origin_facility=origin,
            resource_ref=reference,
            labels=labels,
            element_labels=element_labels,
        )

    def decide(self, resource: dict[str, Any], definition: ResourceDef) -> Decision | None:
        """The decision for ``resource`` (None: consent does not apply to it or to the actor)."""
        if not self.active:
            return None
        patients = patients_of(resource, definition, self.base_url)
        if not patients:
            return None
        resource_type = str(resource.get("resourceType"))
        sensitivity = classify(resource)
        origin = origin_facility(resource)
        own = self.policy.own_records_visible and origin == self.actor.facility
        # What the facility recorded itself is decided before any rule (the decision point's
        # fixed step): no need to load the person's consents for it.
        rules = {p: [] for p in patients} if own else rules_for(self.session, patients)
        decisions = [
            decide_access(
                self._request(
                    resource_type,
                    patient_id,
                    labels=sensitivity.labels,
                    element_labels=sensitivity.element_labels,
                    origin=origin,
                    reference=f"{resource_type}/{resource.get('id')}",
                ),
                rules[patient_id],
                self.policy,
            )
            for patient_id in patients
        ]
        return combine(decisions)

    def screen(self, stored: StoredResource, definition: ResourceDef) -> StoredResource | None:
        """``stored`` as the actor may see it: unchanged, redacted, or None when denied."""
        if not self.active:
            return stored
        resource = stored.as_dict()
        decision = self.decide(resource, definition)
        if decision is None:
            return stored
        self.tally.add(decision, f"{stored.resource_type}/{stored.resource_id}")
        if not decision.permitted:
            return None
        if decision.redact:
            return replace(stored, json=orjson.dumps(redacted(resource, decision.redact)))
        return stored

    def screen_all(
        self, items: Sequence[StoredResource], definitions: dict[str, ResourceDef]
    ) -> list[StoredResource]:
        if self.active and items:  # the page's patients' consents in one query, not one each
            patients = {
                patient
                for item in items
                for patient in patients_of(
                    item.as_dict(), definitions[item.resource_type], self.base_url
                )
            }
            rules_for(self.session, sorted(patients))
        kept = (self.screen(item, definitions[item.resource_type]) for item in items)
        return [item for item in kept if item is not None]

    def require(self, stored: StoredResource, definition: ResourceDef) -> StoredResource:
        """``screen`` for a read: a deny is answered like an unknown id (404, no consent detail);
        its audit record names the consents it rested on."""
        screened = self.screen(stored, definition)
        if screened is None:
            resource = stored.as_dict()
            reference = f"{stored.resource_type}/{stored.resource_id}"
            raise ConsentRefused(
                not_available(reference),
                resources=[f"{stored.resource_type}/{stored.resource_id}"],
                patients=patients_of(resource, definition, self.base_url),
                consents=list(self.tally.consents),
            )
        return screened

    def permits_patients(self, patient_ids: Sequence[str]) -> bool:
        """Whether every one of these Patient records may be shown (the patient index)."""
        if not self.active or not patient_ids:
            return True
        rows = self.session.execute(
            select(ResourceRow.resource_id, ResourceRow.content).where(
                ResourceRow.resource_type == PATIENT,
                ResourceRow.resource_id.in_(list(patient_ids)),
            )
        ).all()
        definition = RESOURCE_DEFS[PATIENT]
        allowed = True
        for resource_id, content in rows:
            resource = orjson.loads(content) if content else {"resourceType": PATIENT}
            resource.setdefault("id", resource_id)
            decision = self.decide(resource, definition)
            if decision is not None:
                self.tally.add(decision, f"{PATIENT}/{resource_id}")
                allowed = allowed and decision.permitted
        return allowed

    # -- searches -------------------------------------------------------------------------
    def search_condition(
        self, resource_type: str, definition: ResourceDef, where: Sequence[Any]
    ) -> ColumnElement[bool] | None:
        """SQL keeping only the rows (matching ``where``) the decision would let through."""
        if not self.active:
            return None
        compartment = tuple(definition.patient_compartment)
        if resource_type != PATIENT and not compartment:
            return None  # directory data (Organization, Practitioner, ...): no patient's data
        query = PatientQuery(resource_type, compartment)
        consented = list(
            self.session.execute(query.consented_among(where).limit(MAX_CONSENTED_PATIENTS + 1))
            .scalars()
            .all()
        )
        # Beyond the limit the patients with consents are not decided one by one: their data is
        # left out of this search (never shown undecided); a search by patient finds it.
        crowd = len(consented) > MAX_CONSENTED_PATIENTS
        if crowd:
            consented = []
            self.tally.withheld_by_query = True
        rules = rules_for(self.session, consented)
        labels = set(self.policy.sensitive_labels)
        for patient_rules in rules.values():
            for rule in patient_rules:
                labels |= rule.labels or set()
        ordered_labels = sorted(labels)

        def permits(patient: str | None, label: str | None, reference: str | None = None) -> bool:
            request = self._request(
                resource_type,
                patient or "",
                labels=frozenset({label}) if label else frozenset(),
                reference=reference,
            )
            # Break-glass is flagged by the screening of what is actually returned, not here.
            return decide_access(request, rules.get(patient or "", []), self.policy).permitted

        base = {p: permits(p, None) for p in consented}
        base_deny = [p for p in consented if not base[p]]
        label_deny: dict[str, list[str]] = {label: [] for label in ordered_labels}
        sensitive = self.policy.sensitive_labels
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
                self.tally.consents[f"Consent/{rule.consent_id}"] = None
        if base_deny or deny_ids:
            self.tally.withheld_by_query = True

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
            decided = or_(ResourceRow.resource_id.in_(allow_ids), decided)
        if deny_ids:
            decided = and_(ResourceRow.resource_id.not_in(deny_ids), decided)
        exempt: list[ColumnElement[bool]] = [query.about_no_patient()]
        if self.policy.own_records_visible:
            exempt.append(query.recorded_by(self.actor.facility))
        return or_(*exempt, decided)


def recipient_guard(session: Session, facility: str, base_url: str = "") -> ConsentGuard:
    """The guard for data the hub pushes to ``facility`` (outbound v2, notifications)."""
    actor = Actor.build(
        client_id=f"outbound:{facility}",
        facility=facility,
        role=Role.facility_system,
        scope="system/*.rs",
        purpose_of_use="TREAT",
    )
    return ConsentGuard(session, actor, base_url)


def disclosed(
    session: Session, facility: str, resource: dict[str, Any], channel: str, base_url: str = ""
) -> dict[str, Any] | None:
    """``resource`` as the hub may push it to ``facility`` (decided as that facility treating
    the patient): unchanged, redacted, or None when denied. Audited under the recipient's name
    either way (interaction ``disclose``, the channel as its detail)."""
    guard = recipient_guard(session, facility, base_url)
    definition = RESOURCE_DEFS.get(str(resource.get("resourceType")))
    decision = guard.decide(resource, definition) if definition is not None else None
    if decision is None or definition is None:
        return resource
    reference = f"{resource.get('resourceType')}/{resource.get('id')}"
    guard.tally.add(decision, reference)
    tally = guard.tally
    record_access(
        session,
        AuditEntry(
            guard.actor,
            "disclose",
            str(resource.get("resourceType")),
            [reference],
            patients_of(resource, definition, base_url),
            outcome="0" if decision.permitted else "4",
            query_params=channel,
            decision=tally.decision,
            consents=list(tally.consents),
            denied=tally.denied,
        ),
    )
    if not decision.permitted:
        return None
    return redacted(resource, decision.redact) if decision.redact else resource
