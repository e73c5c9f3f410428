"""Consent -> rules: flattening nested provisions, and every check beyond the FHIR schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from consent.pdp import ConsentRule, ProvisionType
from consent.rules import consent_rules, validate_consent
from consent.sensitivity import ACT_CODE_SYSTEM
from hub.auth.purpose import ACT_REASON_SYSTEM
from hub.errors import InvalidResource

SCOPE = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}
    ]
}


def consent(provision: dict[str, Any] | None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Consent",
        "id": "c1",
        "status": "active",
        "scope": SCOPE,
        "category": [{"text": "insurance linkage"}],
        "patient": {"reference": "Patient/p1"},
    }
    if provision is not None:
        body["provision"] = provision
    return body | fields


def actor(reference: str) -> dict[str, Any]:
    return {"reference": {"reference": reference}}


def refused(body: dict[str, Any]) -> InvalidResource:
    with pytest.raises(InvalidResource) as caught:
        validate_consent(body)
    assert caught.value.status == 400
    return caught.value


def test_nested_provisions_inherit_and_narrow() -> None:
    body = consent(
        {
            "type": "permit",
            "period": {"start": "2025-01-01", "end": "2025-12-31"},
            "purpose": [
                {"system": ACT_REASON_SYSTEM, "code": "TREAT"},
                {"system": ACT_REASON_SYSTEM, "code": "HPAYMT"},
            ],
            "provision": [
                {
                    "type": "deny",
                    "actor": [actor("Organization/H005")],
                    "class": [
                        {"system": "http://hl7.org/fhir/resource-types", "code": "Condition"}
                    ],
                    "securityLabel": [{"system": ACT_CODE_SYSTEM, "code": "PSY"}],
                    "provision": [{"purpose": [{"system": ACT_REASON_SYSTEM, "code": "TREAT"}]}],
                }
            ],
        }
    )
    root, child, grandchild = validate_consent(body)
    assert root.type is ProvisionType.PERMIT and root.depth == 0
    assert root.purposes == frozenset({"TREAT", "HPAYMT"})
    assert root.actors is None and root.labels is None
    assert root.start == datetime(2024, 12, 31, 16, tzinfo=UTC)  # Asia/Shanghai midnight
    assert root.end == datetime(2025, 12, 31, 16, tzinfo=UTC)  # end of the last day, exclusive
    assert child == ConsentRule(
        "c1",
        "Consent.provision.provision[0]",
        ProvisionType.DENY,
        1,
        frozenset({"Organization/H005"}),
        frozenset({"TREAT", "HPAYMT"}),
        frozenset({"Condition"}),
        frozenset({"PSY"}),
        None,
        None,
        root.start,
        root.end,
    )
    assert grandchild.type is ProvisionType.DENY  # inherited
    assert grandchild.purposes == frozenset({"TREAT"})  # narrowed
    assert grandchild.path == "Consent.provision.provision[0].provision[0]"
    assert grandchild.specificity > child.specificity > root.specificity


def test_policy_rule_gives_the_root_type() -> None:
    body = consent(None, policyRule={"coding": [{"system": ACT_CODE_SYSTEM, "code": "OPTOUT"}]})
    (rule,) = validate_consent(body)
    assert rule.type is ProvisionType.DENY
    assert rule.specificity == (0, 0)


def test_data_and_action() -> None:
    body = consent(
        {
            "type": "deny",
            "data": [{"meaning": "instance", "reference": {"reference": "Observation/o1"}}],
            "action": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/consentaction",
                            "code": "access",
                        }
                    ]
                }
            ],
        }
    )
    (rule,) = validate_consent(body)
    assert rule.data == frozenset({"Observation/o1"})
    assert rule.actions == frozenset({"access"})


def test_inactive_consent_validates_but_gives_no_rules() -> None:
    body = consent({"type": "permit"}, status="inactive")
    assert validate_consent(body) == []
    assert consent_rules(body) == []


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        ({"scope": {"coding": [{"code": "research"}]}}, "Consent.scope"),
        ({"patient": {"reference": "Group/g1"}}, "Consent.patient"),
        ({"patient": {}}, "Consent.patient"),
        ({"provision": {}}, "Consent.provision.type"),
        ({"provision": {"type": "maybe"}}, "Consent.provision.type"),
        (
            {"provision": {"type": "permit", "purpose": [{"code": "TREAT"}]}},
            "Consent.provision.purpose[0]",
        ),
        (
            {
                "provision": {
                    "type": "permit",
                    "purpose": [{"system": ACT_REASON_SYSTEM, "code": "MARKETING"}],
                }
            },
            "Consent.provision.purpose[0]",
        ),
        (
            {"provision": {"type": "permit", "actor": [actor("Patient/p2")]}},
            "Consent.provision.actor[0].reference",
        ),
        (
            {"provision": {"type": "permit", "class": [{"code": "Spaceship"}]}},
            "Consent.provision.class[0]",
        ),
        (
            {"provision": {"type": "deny", "securityLabel": [{"code": "HIV"}]}},
            "Consent.provision.securityLabel[0]",
        ),
        (
            {"provision": {"type": "deny", "period": {"start": "2025-02-01", "end": "2025-01-01"}}},
            "Consent.provision.period",
        ),
        (
            {"provision": {"type": "deny", "period": {"start": "next week"}}},
            "Consent.provision.period",
        ),
        (
            {
                "provision": {
                    "type": "deny",
                    "data": [
                        {"meaning": "authoredby", "reference": {"reference": "Practitioner/x"}}
                    ],
                }
            },
            "Consent.provision.data[0]",
        ),
        ({"performer": [{"reference": "Patient/someone-else"}]}, "Consent.performer[0]"),
    ],
)
def test_invalid_consents_are_refused(change: dict[str, Any], expression: str) -> None:
    body = consent({"type": "permit"}) | change
    error = refused(body)
    assert error.expression == [expression]
    assert error.outcome()["resourceType"] == "OperationOutcome"


def test_nested_provision_outside_its_parent_is_refused() -> None:
    body = consent(
        {
            "type": "permit",
            "actor": [actor("Organization/H001")],
            "provision": [{"type": "deny", "actor": [actor("Organization/H002")]}],
        }
    )
    assert refused(body).expression == ["Consent.provision.provision[0]"]
    late = consent(
        {
            "type": "permit",
            "period": {"start": "2025-01-01", "end": "2025-01-31"},
            "provision": [{"type": "deny", "period": {"start": "2025-03-01"}}],
        }
    )
    assert refused(late).expression == ["Consent.provision.provision[0].period"]


def test_not_a_consent() -> None:
    assert refused({"resourceType": "Patient"}).expression == ["resourceType"]


def test_nested_security_labels_replace_the_parents() -> None:
    confidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
    body = consent(
        {
            "type": "permit",
            "securityLabel": [{"system": confidentiality, "code": "N"}],
            "provision": [
                {"type": "deny", "securityLabel": [{"system": ACT_CODE_SYSTEM, "code": "PSY"}]}
            ],
        }
    )
    root, child = validate_consent(body)
    assert root.labels == frozenset({"N"})
    assert child.labels == frozenset({"PSY"})
