"""Consent decisions found unguarded by mutation testing (scripts/mutate pdp).

Each test pins a rule a surviving mutant broke without a test noticing: which provisions apply
(purpose, type, data, action, labels, period bounds), when break-glass applies, which elements
are withheld, and what the decision records for the audit (reasons, consents, the flag).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from consent.pdp import Effect, decide_access
from tests.unit.test_consent_pdp import DENY, NOW, PERMIT, POLICY, decide, request, rule

SENSITIVE_ELEMENT = (("Encounter.reasonCode", frozenset({"HIV"})),)


def sensitive_elements(*paths: str) -> tuple[tuple[str, frozenset[str]], ...]:
    return tuple((path, frozenset({"PSY"})) for path in paths)


# --- which provisions apply ------------------------------------------------------------------


def test_a_deny_for_another_purpose_does_not_apply() -> None:
    assert decide([rule(DENY, purposes=frozenset({"HRESCH"}))]).effect is Effect.PERMIT


def test_a_deny_for_a_parent_purpose_only_reaches_its_children() -> None:
    research_deny = [rule(DENY, purposes=frozenset({"HRESCH"}))]
    assert decide(research_deny, purpose_of_use="ETREAT").effect is Effect.PERMIT
    treat_deny = [rule(DENY, purposes=frozenset({"TREAT"}))]
    assert decide(treat_deny, purpose_of_use="ETREAT").effect is Effect.DENY


def test_an_unknown_purpose_matches_no_provision_and_no_default() -> None:
    assert decide([rule(DENY, purposes=frozenset({"TREAT"}))], purpose_of_use="BOGUS").effect is (
        Effect.DENY
    )
    assert decide(purpose_of_use="BOGUS").effect is Effect.DENY  # not the TREAT opt-out default


def test_a_deny_for_one_resource_type_spares_the_others() -> None:
    rules = [rule(DENY, resource_types=frozenset({"Observation"}))]
    assert decide(rules, resource_type="Observation").effect is Effect.DENY
    assert decide(rules, resource_type="Condition").effect is Effect.PERMIT


def test_a_deny_for_one_resource_spares_the_others() -> None:
    rules = [rule(DENY, data=frozenset({"Observation/o1"}))]
    assert decide(rules, resource_ref="Observation/o1").effect is Effect.DENY
    assert decide(rules, resource_ref="Observation/o2").effect is Effect.PERMIT


def test_a_deny_for_one_action_spares_the_others() -> None:
    rules = [rule(DENY, actions=frozenset({"disclose"}))]
    assert decide(rules, action="disclose").effect is Effect.DENY
    assert decide(rules, action="access").effect is Effect.PERMIT


def test_a_labelled_deny_reaches_only_data_with_that_label() -> None:
    rules = [rule(DENY, labels=frozenset({"PSY"}))]
    assert decide(rules, labels=frozenset({"PSY"})).effect is Effect.DENY
    assert decide(rules).effect is Effect.PERMIT


def test_a_labelled_permit_does_not_reach_unlabelled_data() -> None:
    rules = [rule(PERMIT, labels=frozenset({"PSY"}), purposes=frozenset({"HRESCH"}))]
    assert decide(rules, purpose_of_use="HRESCH", labels=frozenset({"PSY"})).permitted
    assert decide(rules, purpose_of_use="HRESCH").effect is Effect.DENY


def test_a_period_includes_its_start_and_excludes_its_end() -> None:
    start, end = NOW - timedelta(days=1), NOW + timedelta(days=1)
    rules = [rule(PERMIT, purposes=frozenset({"HRESCH"}), start=start, end=end)]
    assert decide(rules, purpose_of_use="HRESCH", moment=start).permitted
    assert decide(rules, purpose_of_use="HRESCH", moment=end).effect is Effect.DENY


# --- break-glass ------------------------------------------------------------------------------


def test_a_reason_without_an_emergency_purpose_breaks_no_glass() -> None:
    decision = decide([rule(DENY)], purpose_reason="I insist")
    assert decision.effect is Effect.DENY
    assert not decision.break_glass


def test_strict_break_glass_still_reveals_data_that_is_not_sensitive() -> None:
    strict = POLICY.model_copy(update={"break_glass_reveals_sensitive": False})
    emergency = request(purpose_of_use="ETREAT", purpose_reason="trauma")
    decision = decide_access(emergency, [rule(DENY)], strict)
    assert decision.effect is Effect.PERMIT
    assert decision.break_glass


def test_break_glass_shows_withheld_elements_and_is_flagged() -> None:
    decision = decide(
        purpose_of_use="ETREAT", purpose_reason="trauma", element_labels=SENSITIVE_ELEMENT
    )
    assert decision.effect is Effect.PERMIT
    assert decision.redact == ()
    assert decision.break_glass is True
    assert decision.break_glass_reason == "trauma"
    assert all(isinstance(text, str) for text in decision.reasons)
    assert any("Encounter.reasonCode" in text for text in decision.reasons)


def test_no_break_glass_flag_when_every_element_is_permitted() -> None:
    opted_in = [rule(PERMIT, labels=frozenset({"HIV"}))]
    decision = decide(
        opted_in, purpose_of_use="ETREAT", purpose_reason="trauma", element_labels=SENSITIVE_ELEMENT
    )
    assert decision.effect is Effect.PERMIT
    assert decision.break_glass is False
    assert decision.break_glass_reason is None


# --- elements ---------------------------------------------------------------------------------


def test_an_opted_in_element_is_shown() -> None:
    opted_in = [rule(PERMIT, labels=frozenset({"PSY"}))]
    decision = decide(opted_in, element_labels=sensitive_elements("Encounter.reasonCode"))
    assert decision.effect is Effect.PERMIT
    assert decision.redact == ()


def test_every_element_is_checked_after_a_permitted_one() -> None:
    elements = (("Encounter.type", frozenset({"N"})), *SENSITIVE_ELEMENT)
    decision = decide(element_labels=elements)
    assert decision.effect is Effect.PERMIT_WITH_REDACTION
    assert decision.redact == ("Encounter.reasonCode",)


def test_the_consent_withholding_an_element_is_recorded() -> None:
    deny_psy = rule(DENY, consent_id="c9", labels=frozenset({"PSY"}))
    decision = decide([deny_psy], element_labels=sensitive_elements("Encounter.reasonCode"))
    assert decision.redact == ("Encounter.reasonCode",)
    assert decision.consent_ids == ("c9",)


# --- what the decision records ------------------------------------------------------------------


def reasons_of(**overrides: Any) -> tuple[str, ...]:
    rules = overrides.pop("rules", [])
    return decide(rules, **overrides).reasons


def test_every_fixed_and_default_decision_says_why() -> None:
    assert "operator" in " ".join(reasons_of(actor_role="operator"))
    assert reasons_of(actor_role="patient", actor_patient="p1")
    assert reasons_of(actor_role="patient", actor_patient="p2")
    assert reasons_of(purpose_of_use="HRESCH")
    assert "HIV" in " ".join(reasons_of(labels=frozenset({"HIV"})))


def test_deny_wins_is_said_only_when_a_permit_lost() -> None:
    assert not any("deny wins" in text for text in reasons_of(rules=[rule(DENY)]))
    permit = rule(PERMIT, purposes=frozenset({"HRESCH"}))
    assert not any(
        "deny wins" in text for text in reasons_of(rules=[permit], purpose_of_use="HRESCH")
    )


def test_break_glass_names_every_element_it_shows() -> None:
    two = sensitive_elements("Encounter.reasonCode", "Encounter.diagnosis")
    decision = decide(purpose_of_use="ETREAT", purpose_reason="trauma", element_labels=two)
    assert decision.redact == ()
    shown = [path for path, _ in two if any(path in text for text in decision.reasons)]
    assert shown == ["Encounter.reasonCode", "Encounter.diagnosis"]


def test_strict_break_glass_says_why_it_did_not_reveal() -> None:
    strict = POLICY.model_copy(update={"break_glass_reveals_sensitive": False})
    emergency = request(purpose_of_use="ETREAT", purpose_reason="trauma", labels=frozenset({"PSY"}))
    decision = decide_access(emergency, [rule(DENY)], strict)
    assert decision.effect is Effect.DENY
    assert all(isinstance(text, str) and text for text in decision.reasons)
    assert any("break-glass" in text for text in decision.reasons)
