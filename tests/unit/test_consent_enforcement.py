"""The pure parts of the enforcement point: combining decisions, redaction, the audit tally."""

from __future__ import annotations

from consent.combination import DecisionTally, combine, redacted, subject_to_consent
from consent.pdp import Decision, Effect
from consent.policy import RegionalPolicy
from hub.auth.actor import Actor
from hub.auth.roles import Role

PERMIT = Decision(Effect.PERMIT, ("shared for TREAT",))
DENY = Decision(Effect.DENY, ("Consent/a deny",), ("a",))
REDACT = Decision(Effect.PERMIT_WITH_REDACTION, ("reason withheld",), ("b",), redact=("E.x",))
GLASS = Decision(Effect.PERMIT, ("override",), ("a",), True, "急诊")


def test_every_patient_of_a_resource_must_permit() -> None:
    assert combine([PERMIT]) is PERMIT
    both = combine([PERMIT, DENY])
    assert both.effect is Effect.DENY and both.consent_ids == ("a",) and both.redact == ()
    partial = combine([PERMIT, REDACT])
    assert partial.effect is Effect.PERMIT_WITH_REDACTION and partial.redact == ("E.x",)
    emergency = combine([PERMIT, GLASS])
    assert emergency.permitted and emergency.break_glass and emergency.break_glass_reason == "急诊"


def test_redaction_removes_the_element_and_labels_the_copy() -> None:
    encounter = {"resourceType": "Encounter", "id": "e", "reasonCode": [{"text": "F32"}],
                 "meta": {"security": [{"system": "s", "code": "N"}]}}  # fmt: skip
    shown = redacted(encounter, ["Encounter.reasonCode"])
    assert "reasonCode" not in shown and "reasonCode" in encounter  # the original is untouched
    assert [s["code"] for s in shown["meta"]["security"]] == ["N", "REDACTED"]


def test_the_tally_sums_a_request_up_for_its_audit_record() -> None:
    tally = DecisionTally()
    assert tally.decision is None
    tally.add(PERMIT, "Observation/1")
    assert tally.decision == "permit"
    tally.add(DENY, "Observation/2")
    assert tally.decision == "permit-with-redaction" and tally.denied == ["Observation/2"]
    assert list(tally.consents) == ["Consent/a"]
    only_denied = DecisionTally()
    only_denied.add(DENY, "Observation/2")
    assert only_denied.decision == "deny"
    glass = DecisionTally()
    glass.add(GLASS, "Observation/3")
    assert glass.break_glass_reason == "急诊" and glass.decision == "permit"
    query = DecisionTally(withheld_by_query=True)
    assert query.decision == "deny"  # the query left everything decided out
    query.add(PERMIT, "Observation/4")
    assert query.decision == "permit-with-redaction"  # some shown, some left out


def test_who_is_subject_to_consent() -> None:
    policy = RegionalPolicy()

    def actor(role: Role, patient: str | None = None) -> Actor:
        return Actor.build(client_id="c", facility="H002", role=role, scope="", patient=patient)

    assert subject_to_consent(actor(Role.facility_system), policy)
    assert subject_to_consent(actor(Role.practitioner), policy)
    assert not subject_to_consent(actor(Role.operator), policy)
    assert not subject_to_consent(actor(Role.auditor), policy)
    assert not subject_to_consent(actor(Role.patient, "p1"), policy)
    strict = RegionalPolicy(exempt_roles=frozenset({"operator"}))
    assert subject_to_consent(actor(Role.auditor), strict)
