"""The consent decision point: default policy, opt-out, opt-in, precedence, time, break-glass."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from consent.pdp import (
    FACILITY_SOURCE,
    AccessRequest,
    ConsentRule,
    Decision,
    Effect,
    ProvisionType,
    decide_access,
    origin_facility,
)
from consent.policy import RegionalPolicy, load_policy
from consent.rules import consent_rules, validate_consent
from consent.sensitivity import ACT_CODE_SYSTEM, classify
from hub.auth.purpose import ACT_REASON_SYSTEM
from hub.errors import InvalidResource

NOW = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
POLICY = load_policy()
PERMIT, DENY = ProvisionType.PERMIT, ProvisionType.DENY
SCOPE = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}
    ]
}


def request(**overrides: Any) -> AccessRequest:
    values: dict[str, Any] = {
        "actor_facility": "H002",
        "actor_role": "practitioner",
        "patient_id": "p1",
        "resource_type": "Observation",
        "moment": NOW,
        "purpose_of_use": "TREAT",
        "origin_facility": "H001",
    }
    return AccessRequest(**(values | overrides))


def rule(kind: ProvisionType, **fields: Any) -> ConsentRule:
    values: dict[str, Any] = {"consent_id": "c1", "path": "Consent.provision", "type": kind}
    return ConsentRule(**(values | fields))


def decide(rules: list[ConsentRule] | None = None, **overrides: Any) -> Decision:
    return decide_access(request(**overrides), rules or [], POLICY)


def consent(provision: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": fields.pop("id", "c1"),
        "status": "active",
        "scope": SCOPE,
        "category": [{"text": "cross-institution sharing"}],
        "patient": {"reference": "Patient/p1"},
        "provision": provision,
    } | fields


def purpose(code: str) -> dict[str, str]:
    return {"system": ACT_REASON_SYSTEM, "code": code}


def label(code: str) -> dict[str, str]:
    return {"system": ACT_CODE_SYSTEM, "code": code}


# --- the regional default policy -----------------------------------------------------------


def test_default_policy_file_holds_the_documented_defaults() -> None:
    assert RegionalPolicy() == POLICY
    assert POLICY.opt_out_purposes == {"TREAT"}
    assert {"PSY", "HIV", "STD", "SEX", "GDIS", "ETH"} <= POLICY.sensitive_labels


def test_a_facility_always_sees_what_it_recorded() -> None:
    decision = decide([rule(DENY)], actor_facility="H001", labels=frozenset({"HIV"}))
    assert decision.effect is Effect.PERMIT
    assert "recorded by the requesting facility itself" in decision.reasons


def test_cross_facility_treatment_is_shared_by_default() -> None:
    decision = decide()
    assert decision.effect is Effect.PERMIT
    assert decision.consent_ids == ()
    assert "TREAT" in decision.reasons[0]


@pytest.mark.parametrize("code", ["HPAYMT", "HRESCH"])
def test_other_purposes_need_a_consent(code: str) -> None:
    assert decide(purpose_of_use=code).effect is Effect.DENY
    granted = decide([rule(PERMIT, purposes=frozenset({code}))], purpose_of_use=code)
    assert granted.effect is Effect.PERMIT
    assert granted.consent_ids == ("c1",)


def test_no_purpose_is_refused() -> None:
    decision = decide(purpose_of_use=None)
    assert decision.effect is Effect.DENY
    assert decision.reasons == ("the token carries no purpose of use",)


def test_exempt_roles_and_patients() -> None:
    assert decide([rule(DENY)], actor_role="auditor").effect is Effect.PERMIT
    own = decide([rule(DENY)], actor_role="patient", actor_patient="p1")
    assert own.effect is Effect.PERMIT
    other = decide(actor_role="patient", actor_patient="p2")
    assert other.effect is Effect.DENY


# --- opt-out and opt-in --------------------------------------------------------------------


def test_opt_out_refuses_other_facilities() -> None:
    decision = decide([rule(DENY)])
    assert decision.effect is Effect.DENY
    assert decision.consent_ids == ("c1",)


def test_opt_out_can_spare_one_facility() -> None:
    rules = consent_rules(
        consent(
            {
                "type": "deny",
                "provision": [
                    {
                        "type": "permit",
                        "actor": [{"reference": {"reference": "Organization/H003"}}],
                    }
                ],
            }
        )
    )
    assert decide(rules, actor_facility="H002").effect is Effect.DENY
    assert decide(rules, actor_facility="H003").effect is Effect.PERMIT


@pytest.mark.parametrize("code", ["PSY", "HIV", "STD", "SEX", "GDIS", "ETH"])
def test_sensitive_classes_need_explicit_opt_in(code: str) -> None:
    labels = frozenset({code})
    refused = decide(labels=labels)
    assert refused.effect is Effect.DENY
    assert "explicit opt-in" in refused.reasons[0]
    # a general permit is not an opt-in
    assert decide([rule(PERMIT)], labels=labels).effect is Effect.DENY
    opted_in = decide([rule(PERMIT, labels=labels)], labels=labels)
    assert opted_in.effect is Effect.PERMIT


def test_opt_in_must_name_every_sensitive_class() -> None:
    labels = frozenset({"HIV", "STD"})
    assert decide([rule(PERMIT, labels=frozenset({"HIV"}))], labels=labels).effect is Effect.DENY
    both = rule(PERMIT, labels=labels)
    assert decide([both], labels=labels).effect is Effect.PERMIT


def test_sensitive_codes_are_classified_from_data() -> None:
    observation = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": "http://loinc.org", "code": "7917-8"}]},
    }
    condition = {
        "resourceType": "Condition",
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "F10.2"}]},
        "meta": {"security": [label("GDIS")]},
    }
    assert classify(observation).labels == {"HIV"}
    assert classify(condition).labels == {"ETH", "GDIS"}  # F10-F19 substance use, not PSY


def test_sensitive_element_is_redacted() -> None:
    encounter = {
        "resourceType": "Encounter",
        "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "B20"}]}],
    }
    sensitivity = classify(encounter)
    decision = decide(
        resource_type="Encounter",
        labels=sensitivity.labels,
        element_labels=sensitivity.element_labels,
    )
    assert decision.effect is Effect.PERMIT_WITH_REDACTION
    assert decision.redact == ("Encounter.reasonCode",)
    assert decision.permitted


# --- precedence ----------------------------------------------------------------------------


def test_most_specific_wins() -> None:
    broad_deny = rule(DENY)
    named_permit = rule(PERMIT, consent_id="c2", actors=frozenset({"Organization/H002"}))
    decision = decide([broad_deny, named_permit])
    assert decision.effect is Effect.PERMIT
    assert decision.consent_ids == ("c2",)
    nested_deny = rule(DENY, depth=1, purposes=frozenset({"TREAT"}))
    assert decide([named_permit, nested_deny]).effect is Effect.DENY  # depth counts first


def test_deny_wins_at_equal_specificity() -> None:
    permit = rule(PERMIT, actors=frozenset({"Organization/H002"}))
    deny = rule(DENY, consent_id="c2", purposes=frozenset({"TREAT"}))
    decision = decide([permit, deny])
    assert decision.effect is Effect.DENY
    assert decision.consent_ids == ("c2",)
    assert "deny wins over permit at equal specificity" in decision.reasons


def test_practitioner_and_care_team_actors() -> None:
    rules = [rule(DENY), rule(PERMIT, actors=frozenset({"CareTeam/t1"}))]
    assert decide(rules).effect is Effect.DENY
    assert decide(rules, care_teams=frozenset({"CareTeam/t1"})).effect is Effect.PERMIT
    mine = [rule(DENY), rule(PERMIT, actors=frozenset({"Practitioner/d1"}))]
    assert decide(mine, practitioner="Practitioner/d1").effect is Effect.PERMIT


# --- time and withdrawal -------------------------------------------------------------------


def test_withdrawal_takes_effect_at_once() -> None:
    granted = consent({"type": "permit", "purpose": [purpose("HRESCH")]})
    assert decide(consent_rules(granted), purpose_of_use="HRESCH").effect is Effect.PERMIT
    for status in ("inactive", "rejected"):
        withdrawn = granted | {"status": status}
        assert consent_rules(withdrawn) == []
        assert decide(consent_rules(withdrawn), purpose_of_use="HRESCH").effect is Effect.DENY


def test_a_newer_deny_withdraws_an_older_permit() -> None:
    older = consent_rules(consent({"type": "permit", "purpose": [purpose("HRESCH")]}))
    newer = consent_rules(consent({"type": "deny", "purpose": [purpose("HRESCH")]}, id="c2"))
    decision = decide([*older, *newer], purpose_of_use="HRESCH")
    assert decision.effect is Effect.DENY
    assert decision.consent_ids == ("c2",)


def test_period_expiry() -> None:
    period = {"start": "2025-01-01", "end": "2025-05-31"}
    rules = consent_rules(
        consent({"type": "permit", "purpose": [purpose("HPAYMT")], "period": period})
    )
    assert decide(rules, purpose_of_use="HPAYMT", moment=NOW - timedelta(days=2)).permitted
    assert decide(rules, purpose_of_use="HPAYMT", moment=NOW).effect is Effect.DENY  # expired
    before = datetime(2024, 12, 31, 12, tzinfo=UTC)
    assert decide(rules, purpose_of_use="HPAYMT", moment=before).effect is Effect.DENY


# --- break-glass ---------------------------------------------------------------------------


def test_break_glass_with_a_reason_permits_and_is_flagged() -> None:
    reason = "unconscious on arrival, allergy history needed"
    decision = decide(
        [rule(DENY)], purpose_of_use="ETREAT", purpose_reason=reason, labels=frozenset({"HIV"})
    )
    assert decision.effect is Effect.PERMIT
    assert decision.break_glass
    assert decision.break_glass_reason == reason
    assert decision.consent_ids == ("c1",)
    assert any("break-glass" in text for text in decision.reasons)


def test_break_glass_without_a_reason_is_no_override() -> None:
    decision = decide([rule(DENY)], purpose_of_use="ETREAT")
    assert decision.effect is Effect.DENY
    assert not decision.break_glass
    assert "emergency purpose without a reason: no break-glass" in decision.reasons


def test_etreat_counts_as_treat_without_breaking_glass() -> None:
    decision = decide(purpose_of_use="ETREAT", purpose_reason="trauma")
    assert decision.effect is Effect.PERMIT
    assert not decision.break_glass  # nothing was overridden


def test_policy_can_keep_sensitive_classes_from_break_glass() -> None:
    strict = POLICY.model_copy(update={"break_glass_reveals_sensitive": False})
    req = request(purpose_of_use="ETREAT", purpose_reason="trauma", labels=frozenset({"PSY"}))
    assert decide_access(req, [], strict).effect is Effect.DENY
    assert decide_access(req, [], POLICY).break_glass


# --- guardians and minors -------------------------------------------------------------------


def test_a_minor_consents_through_a_guardian() -> None:
    child = date(2015, 3, 1)
    signed_by_child = consent(
        {"type": "permit", "purpose": [purpose("HRESCH")]},
        dateTime="2025-05-01",
        performer=[{"reference": "Patient/p1"}],
    )
    with pytest.raises(InvalidResource) as caught:
        validate_consent(signed_by_child, patient_birth_date=child)
    assert caught.value.expression == ["Consent.performer"]
    by_guardian = signed_by_child | {"performer": [{"reference": "RelatedPerson/mother"}]}
    rules = validate_consent(by_guardian, patient_birth_date=child)
    assert decide(rules, purpose_of_use="HRESCH").effect is Effect.PERMIT
    # at 14 the patient signs for themself
    validate_consent(signed_by_child, patient_birth_date=date(2011, 5, 1))


def test_origin_facility_reads_meta_source() -> None:
    assert origin_facility({"meta": {"source": FACILITY_SOURCE + "H007"}}) == "H007"
    assert origin_facility({"meta": {"source": "urn:other"}}) is None
    assert origin_facility({}) is None
