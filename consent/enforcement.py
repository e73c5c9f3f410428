"""The consent enforcement point: every read path of the store asks here (PIPL Art. 28-29).

``FhirStore`` builds one :class:`ConsentGuard` per unit of work (``store.guard``); the paths that
hand data out go through it, so none can forget the decision:

- :meth:`ConsentGuard.require` (read, vread, instance history, ``$everything``'s Patient): the
  decision for one resource; a deny raises :class:`hub.errors.ConsentRefused` (404, answered
  like an unknown id);
- :meth:`ConsentGuard.screen`: the same for each resource of a search page, an ``_include``, a
  history page, a Bundle's GET entry; denied ones are dropped, redactions applied;
- :meth:`ConsentGuard.search_condition`: SQL that leaves out what the decision would deny, so
  paging and totals count only what the caller may see (``consent.search_filter``);
- :meth:`ConsentGuard.permits_patients` (the patient index: ``$match``, PIXm, person search): a
  person is shown only if every source record of it may be shown;
- :func:`disclosed` (outbound HL7 v2 and Subscription notifications): the receiving
  facility is the one asking, for treatment.

How decisions combine is pure (``consent.combination``). What the decisions rested on
(effects, consents, break-glass, withheld resources) accumulates in :attr:`ConsentGuard.tally`
and goes into the audit record of the request (``FhirStore.audit``).

Not subject to consent: exempt roles (operators, auditors: regional policy), patient tokens (held
to their own compartment by ``hub.fhir.access``), and resources about no patient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from consent.combination import DecisionTally, combine, redacted, subject_to_consent
from consent.pdp import AccessRequest, Decision, decide_access, origin_facility
from consent.policy import RegionalPolicy, get_policy
from consent.search_filter import search_condition
from consent.sensitivity import classify
from consent.service import rules_for
from hub.audit.service import AuditEntry, record_access
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.errors import ConsentRefused, not_available
from hub.fhir.access import PATIENT, patients_of
from hub.fhir.registry import ResourceDef
from hub.fhir.search_parameters import RESOURCE_DEFS
from hub.fhir.system_reads import StoreSystemReads

if TYPE_CHECKING:
    from hub.fhir.repository import StoredResource


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
    def access_request(
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
                self.access_request(
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
        # Protected identifiers stay sealed: the decision reads labels and origins only.
        stored = StoreSystemReads(self.session).current_many(PATIENT, patient_ids)
        definition = RESOURCE_DEFS[PATIENT]
        allowed = True
        for resource_id in patient_ids:
            # A deleted record is decided as a bare Patient: its person's consents still hold.
            resource = stored.get(resource_id) or {"resourceType": PATIENT, "id": resource_id}
            decision = self.decide(resource, definition)
            if decision is not None:
                self.tally.add(decision, f"{PATIENT}/{resource_id}")
                allowed = allowed and decision.permitted
        return allowed

    # -- searches -------------------------------------------------------------------------
    def search_condition(
        self,
        resource_type: str,
        definition: ResourceDef,
        where: Sequence[Any],
        *,
        nested: bool = False,
    ) -> ColumnElement[bool] | None:
        """SQL keeping only the rows (matching ``where``) the decision would let through
        (``consent.search_filter``)."""
        if not self.active:
            return None
        return search_condition(self, resource_type, definition, where, nested=nested)


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
