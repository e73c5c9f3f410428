"""How the consent decisions of one request combine: pure rules, no I/O.

- :func:`combine`: one decision for a resource about several patients (every patient's must
  permit; redactions add up);
- :func:`redacted`: a resource without the elements a decision withholds, labelled REDACTED;
- :class:`DecisionTally`: what the decisions of a request rested on, for its audit record;
- :func:`subject_to_consent`: whether consent applies to an actor at all.

The enforcement point (``consent.enforcement``) applies these to what the store hands out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from consent.pdp import Decision, Effect
from consent.policy import RegionalPolicy
from hub.auth.actor import Actor
from hub.auth.roles import Role

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
