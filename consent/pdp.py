"""The consent decision point: who may see which of a patient's data, for what purpose, and why.

Pure: :func:`decide_access` maps an :class:`AccessRequest`, the patient's consent rules (flattened
by ``consent.rules``) and the :class:`~consent.policy.RegionalPolicy` to a :class:`Decision`, with
no I/O, so every PIPL rule it applies is tested without a database. Loading the rules and acting
on the decision (filtering reads and searches, redacting, auditing) is the enforcement point's job.

Order of evaluation:

1. roles exempt by policy (operators, auditors) are permitted; a patient sees only their own data;
2. a facility always sees what it recorded itself (``origin_facility``, when the policy says so);
3. the consent rules that apply to the request (actor, purpose, resource type, security labels,
   data, action, period): **the most specific wins** -- a nested provision is an exception to its
   parent, so depth counts first, then the number of constrained dimensions (actor, purpose,
   class, label, data, action); **at equal specificity deny wins** (so a newer deny withdraws a
   permit at once; to grant again, make the deny inactive or grant something more specific);
4. when no rule applies, the regional default: sensitive classes need an explicit opt-in (a
   permit naming every sensitive label of the data); TREAT is shared unless opted out; any other
   purpose needs a consent;
5. break-glass: a deny becomes a permit when the purpose is a break-glass purpose (ETREAT) with a
   reason; the decision is flagged so the access is accounted for (Art. 13(4)). It is time-boxed
   by the token's lifetime, which the decision does not see. ``break_glass`` is set only when the
   emergency purpose changed the outcome; every ETREAT access carries its purpose in the audit.

Elements labelled on their own (``element_labels``, e.g. an Encounter's reasonCode with an HIV
diagnosis) are decided like the resource with those labels added; those refused are listed in
``Decision.redact`` and the effect becomes permit-with-redaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from consent.policy import RegionalPolicy
from hub.auth.purpose import PURPOSE_PARENT, PurposeOfUse

# Re-exported: the decision reads the origin the store stamped (hub.fhir.origin).
from hub.fhir.origin import FACILITY_SOURCE as FACILITY_SOURCE
from hub.fhir.origin import origin_facility as origin_facility


class Effect(StrEnum):
    PERMIT = "permit"
    DENY = "deny"
    PERMIT_WITH_REDACTION = "permit-with-redaction"


class ProvisionType(StrEnum):
    PERMIT = "permit"
    DENY = "deny"


@dataclass(frozen=True)
class AccessRequest:
    """One access to one resource of one patient.

    ``actor_role`` is a :class:`hub.auth.roles.Role` value; ``practitioner`` and ``care_teams``
    are references (``Practitioner/<id>``, ``CareTeam/<id>``); ``origin_facility`` is the code of
    the facility that wrote the resource (:func:`origin_facility` reads it from ``meta.source``);
    ``labels`` and ``element_labels`` come from :func:`consent.sensitivity.classify`.
    """

    actor_facility: str
    actor_role: str
    patient_id: str
    resource_type: str
    moment: datetime
    purpose_of_use: str | None = None
    purpose_reason: str | None = None
    actor_patient: str | None = None  # the patient a patient token is bound to
    practitioner: str | None = None
    care_teams: frozenset[str] = frozenset()
    origin_facility: str | None = None
    resource_ref: str | None = None  # "Observation/123", matched against provision.data
    labels: frozenset[str] = frozenset()
    element_labels: tuple[tuple[str, frozenset[str]], ...] = ()
    action: str = "access"  # consentaction code: access, use, disclose, collect, correct

    @property
    def actor_refs(self) -> frozenset[str]:
        refs = {f"Organization/{self.actor_facility}", *self.care_teams}
        if self.practitioner:
            refs.add(self.practitioner)
        return frozenset(refs)


@dataclass(frozen=True)
class ConsentRule:
    """One provision of one Consent, with its ancestors' constraints folded in.

    ``None`` means unconstrained (any actor, any purpose ...); a set means one of these.
    ``end`` is exclusive. ``path`` locates the provision (``Consent.provision.provision[1]``).
    """

    consent_id: str
    path: str
    type: ProvisionType
    depth: int = 0
    actors: frozenset[str] | None = None
    purposes: frozenset[str] | None = None
    resource_types: frozenset[str] | None = None
    labels: frozenset[str] | None = None
    data: frozenset[str] | None = None
    actions: frozenset[str] | None = None
    start: datetime | None = None
    end: datetime | None = None

    @property
    def specificity(self) -> tuple[int, int]:
        """(depth, constrained dimensions): the larger, the more specific."""
        dims = (self.actors, self.purposes, self.resource_types, self.labels, self.data)
        count = sum(value is not None for value in (*dims, self.actions))
        return self.depth, count

    def describe(self) -> str:
        return f"Consent/{self.consent_id} {self.type} at {self.path}"


@dataclass(frozen=True)
class Decision:
    effect: Effect
    reasons: tuple[str, ...] = ()
    consent_ids: tuple[str, ...] = ()  # the consents the decision rested on
    break_glass: bool = False
    break_glass_reason: str | None = None
    redact: tuple[str, ...] = ()  # element paths to remove (Encounter.reasonCode)

    @property
    def permitted(self) -> bool:
        return self.effect is not Effect.DENY


@dataclass
class _Outcome:
    permit: bool
    reasons: list[str] = field(default_factory=list)
    consent_ids: list[str] = field(default_factory=list)


def decide_access(
    request: AccessRequest, rules: Sequence[ConsentRule], policy: RegionalPolicy
) -> Decision:
    """Permit, deny or permit-with-redaction, with the reasons (see the module docstring)."""
    fixed = _fixed_decision(request, policy)
    if fixed is not None:
        return fixed
    outcome = _evaluate(request, request.labels, rules, policy)
    if not outcome.permit:
        return _deny_or_break_glass(request, outcome, policy)
    return _with_redactions(request, outcome, rules, policy)


def _fixed_decision(request: AccessRequest, policy: RegionalPolicy) -> Decision | None:
    if request.actor_role in policy.exempt_roles:
        reason = f"role {request.actor_role} is not subject to consent (regional policy)"
        return Decision(Effect.PERMIT, (reason,))
    if request.actor_role == "patient":
        if request.actor_patient == request.patient_id:
            return Decision(Effect.PERMIT, ("the patient's own record",))
        return Decision(Effect.DENY, ("a patient token reaches only its own patient",))
    if policy.own_records_visible and request.origin_facility == request.actor_facility:
        return Decision(Effect.PERMIT, ("recorded by the requesting facility itself",))
    return None


def _evaluate(
    request: AccessRequest,
    labels: frozenset[str],
    rules: Iterable[ConsentRule],
    policy: RegionalPolicy,
) -> _Outcome:
    sensitive = labels & policy.sensitive_labels
    applicable = [rule for rule in rules if _applies(rule, request, labels, sensitive)]
    if applicable:
        top = max(rule.specificity for rule in applicable)
        winners = [rule for rule in applicable if rule.specificity == top]
        denies = [rule for rule in winners if rule.type is ProvisionType.DENY]
        chosen = denies or winners
        reasons = [f"{rule.describe()} applies (most specific)" for rule in chosen]
        if denies and len(denies) < len(winners):
            reasons.append("deny wins over permit at equal specificity")
        ids = list(dict.fromkeys(rule.consent_id for rule in chosen))
        return _Outcome(not denies, reasons, ids)
    if sensitive:
        listed = ", ".join(sorted(sensitive))
        return _Outcome(False, [f"sensitive data ({listed}) needs the patient's explicit opt-in"])
    purpose = request.purpose_of_use
    if purpose is None:
        return _Outcome(False, ["the token carries no purpose of use"])
    if _purpose_in(purpose, policy.opt_out_purposes):
        return _Outcome(True, [f"regional default: shared for {purpose} unless opted out"])
    return _Outcome(False, [f"regional default: {purpose} needs the patient's consent"])


def _applies(
    rule: ConsentRule, request: AccessRequest, labels: frozenset[str], sensitive: frozenset[str]
) -> bool:
    moment = request.moment
    if (rule.start is not None and moment < rule.start) or (
        rule.end is not None and moment >= rule.end
    ):
        return False
    purpose = request.purpose_of_use
    checks = (
        rule.actors is None or bool(rule.actors & request.actor_refs),
        rule.purposes is None or (purpose is not None and _purpose_in(purpose, rule.purposes)),
        rule.resource_types is None or request.resource_type in rule.resource_types,
        rule.data is None or request.resource_ref in rule.data,
        rule.actions is None or request.action in rule.actions,
    )
    if not all(checks):
        return False
    if rule.type is ProvisionType.DENY:
        return rule.labels is None or bool(rule.labels & labels)
    # A permit reaches sensitive data only when it names every sensitive class (opt-in).
    if rule.labels is None:
        return not sensitive
    return bool(rule.labels & labels) and sensitive <= rule.labels


def _purpose_in(purpose: str, purposes: frozenset[str]) -> bool:
    """``purpose`` or a purpose it specialises (ETREAT -> TREAT) is in ``purposes``."""
    if purpose in purposes:
        return True
    try:
        parent = PURPOSE_PARENT.get(PurposeOfUse(purpose))
    except ValueError:
        return False
    return parent is not None and parent in purposes


def _break_glass_reason(request: AccessRequest, policy: RegionalPolicy) -> str | None:
    if request.purpose_of_use in policy.break_glass_purposes and request.purpose_reason:
        return request.purpose_reason
    return None


def _deny_or_break_glass(
    request: AccessRequest, outcome: _Outcome, policy: RegionalPolicy
) -> Decision:
    reasons = list(outcome.reasons)
    ids = tuple(outcome.consent_ids)
    emergency = _break_glass_reason(request, policy)
    if request.purpose_of_use in policy.break_glass_purposes and emergency is None:
        reasons.append("emergency purpose without a reason: no break-glass")
    elif emergency is not None:
        sensitive = request.labels & policy.sensitive_labels
        if sensitive and not policy.break_glass_reveals_sensitive:
            reasons.append("break-glass does not reveal sensitive classes (regional policy)")
        else:
            reasons.append("emergency access (break-glass) overrides the deny")
            return Decision(Effect.PERMIT, tuple(reasons), ids, True, emergency)
    return Decision(Effect.DENY, tuple(reasons), ids)


def _with_redactions(
    request: AccessRequest,
    outcome: _Outcome,
    rules: Sequence[ConsentRule],
    policy: RegionalPolicy,
) -> Decision:
    reasons, ids = list(outcome.reasons), list(outcome.consent_ids)
    redact: list[str] = []
    emergency = _break_glass_reason(request, policy)
    overridden = False
    for path, element_labels in request.element_labels:
        element = _evaluate(request, request.labels | element_labels, rules, policy)
        if element.permit:
            continue
        ids.extend(i for i in element.consent_ids if i not in ids)
        if emergency is not None and policy.break_glass_reveals_sensitive:
            overridden = True
            reasons.append(f"{path} shown by emergency access (break-glass)")
            continue
        redact.append(path)
        reasons.extend(f"{path} withheld: {reason}" for reason in element.reasons)
    effect = Effect.PERMIT_WITH_REDACTION if redact else Effect.PERMIT
    return Decision(
        effect,
        tuple(reasons),
        tuple(ids),
        overridden,
        emergency if overridden else None,
        tuple(redact),
    )
