"""Recording consents through the FHIR API: what is accepted, what is refused (and then not
stored at all), and what the enforcement point will load from the store afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from consent.pdp import ProvisionType
from consent.sensitivity import ACT_CODE_SYSTEM
from consent.service import active_consents, patient_rules
from hub.auth.purpose import ACT_REASON_SYSTEM
from hub.auth.roles import Role
from hub.db import session_scope

RECIPIENT = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}
    ]
}
SIGNED_FORM = {"contentType": "application/pdf", "title": "知情同意书", "data": "JVBERi0xLjQK"}


def actor(reference: str) -> dict[str, Any]:
    """A provision actor: who receives the data (role IRCP, information recipient)."""
    return {"role": RECIPIENT, "reference": {"reference": reference}}


def create(api: httpx.Client, resource: dict[str, Any]) -> str:
    response = api.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    resource_id: str = response.json()["id"]
    return resource_id


def new_patient(api: httpx.Client, birth_date: str | None = None) -> str:
    # a distinct person each time: names sharing a long prefix and one birth date are what the
    # patient index links as one person, and consent follows the person
    tag = uuid.uuid4()
    born = birth_date or f"{1940 + tag.int % 50}-{1 + tag.int % 12:02d}-{1 + tag.int % 28:02d}"
    patient = {
        "resourceType": "Patient",
        "name": [{"family": tag.hex[:10]}],
        "birthDate": born,
        "identifier": [{"system": "urn:test:consent-records", "value": tag.hex}],
    }
    return create(api, patient)


def consent(patient: str, provision: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "dateTime": "2025-05-01",
        "organization": [{"reference": "Organization/H001"}],
        "sourceAttachment": SIGNED_FORM,
        "provision": provision
        or {
            "type": "permit",
            # another facility: a facility cannot record a permit that reaches itself
            "actor": [actor("Organization/H002")],
            "purpose": [{"system": ACT_REASON_SYSTEM, "code": "HRESCH"}],
        },
    } | fields


def refusal(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    outcome: dict[str, Any] = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue: dict[str, Any] = outcome["issue"][0]
    return issue


def consents_of(api: httpx.Client, patient: str) -> int:
    bundle = api.get("/Consent", params={"patient": f"Patient/{patient}", "_total": "accurate"})
    assert bundle.status_code == 200, bundle.text
    total: int = bundle.json()["total"]
    return total


def test_a_facility_records_a_consent_with_the_signed_form(api: httpx.Client) -> None:
    patient = new_patient(api)
    h002 = actor("Organization/H002")
    provision = {
        "type": "deny",
        "provision": [
            {"type": "permit", "actor": [h002]},
            {
                "type": "permit",
                "actor": [h002],
                "securityLabel": [{"system": ACT_CODE_SYSTEM, "code": "HIV"}],
            },
        ],
    }
    consent_id = create(api, consent(patient, provision))
    with session_scope() as session:
        (stored,) = active_consents(session, patient)
        assert stored["id"] == consent_id
        rules = patient_rules(session, patient)
        assert [rule.type for rule in rules] == [ProvisionType.DENY, *[ProvisionType.PERMIT] * 2]
        assert patient_rules(session, patient) is rules  # loaded once per session


def test_without_the_signed_form_a_facility_is_refused(api: httpx.Client) -> None:
    patient = new_patient(api)
    body = consent(patient)
    del body["sourceAttachment"]
    issue = refusal(api.post("/Consent", json=body))
    assert issue["expression"] == ["Consent.source"]
    assert consents_of(api, patient) == 0


def test_a_patient_records_their_own_consent(
    api: httpx.Client, client_for: Callable[..., httpx.Client]
) -> None:
    patient = new_patient(api)
    app = client_for(role=Role.patient, patient=patient)
    body = consent(patient, performer=[{"reference": f"Patient/{patient}"}])
    del body["sourceAttachment"]
    assert app.post("/Consent", json=body).status_code == 201, "patient token needs no form"


def test_an_unknown_patient_is_refused(api: httpx.Client) -> None:
    missing = f"nobody-{uuid.uuid4().hex[:8]}"
    issue = refusal(api.post("/Consent", json=consent(missing)))
    assert issue["code"] == "not-found"
    assert issue["expression"] == ["Consent.patient"]
    assert consents_of(api, missing) == 0


def test_an_unknown_organization_is_refused(api: httpx.Client) -> None:
    patient = new_patient(api)
    stored_org = create(api, {"resourceType": "Organization", "name": "省级远程会诊中心"})
    known = [actor(f"Organization/{stored_org}")]
    create(api, consent(patient, {"type": "permit", "actor": known}))
    unknown = [actor("Organization/NOPE999")]
    issue = refusal(api.post("/Consent", json=consent(patient, {"type": "deny", "actor": unknown})))
    assert issue["expression"] == ["Consent.provision.actor[0].reference"]
    custodian = consent(patient, organization=[{"reference": "Organization/NOPE999"}])
    assert refusal(api.post("/Consent", json=custodian))["expression"] == [
        "Consent.organization[0]"
    ]
    assert consents_of(api, patient) == 1


@pytest.mark.parametrize(
    ("provision", "expression"),
    [
        (
            {"type": "permit", "purpose": [{"system": ACT_REASON_SYSTEM, "code": "MARKETING"}]},
            "Consent.provision.purpose[0]",
        ),
        ({"purpose": [{"system": ACT_REASON_SYSTEM, "code": "TREAT"}]}, "Consent.provision.type"),
        (
            {
                "type": "permit",
                "actor": [actor("Organization/H001")],
                "provision": [{"type": "deny", "actor": [actor("Organization/H002")]}],
            },
            "Consent.provision.provision[0]",
        ),
    ],
)
def test_invalid_provisions_are_refused(
    api: httpx.Client, provision: dict[str, Any], expression: str
) -> None:
    patient = new_patient(api)
    issue = refusal(api.post("/Consent", json=consent(patient, provision)))
    assert issue["expression"] == [expression]
    assert consents_of(api, patient) == 0


def test_a_consent_that_fails_the_schema_is_refused(api: httpx.Client) -> None:
    patient = new_patient(api)
    body = consent(patient)
    del body["scope"]
    refusal(api.post("/Consent", json=body))
    wrong_scope = consent(patient, scope={"coding": [{"code": "research"}]})
    assert refusal(api.post("/Consent", json=wrong_scope))["expression"] == ["Consent.scope"]


def test_a_minor_needs_a_guardian(api: httpx.Client) -> None:
    child = new_patient(api, birth_date="2015-03-01")
    own = consent(child, performer=[{"reference": f"Patient/{child}"}])
    assert refusal(api.post("/Consent", json=own))["expression"] == ["Consent.performer"]
    guardian = consent(child, performer=[{"reference": "RelatedPerson/mother-1"}])
    create(api, guardian)


def test_withdrawal_takes_effect_at_once(api: httpx.Client) -> None:
    patient = new_patient(api)
    consent_id = create(api, consent(patient))
    body = consent(patient, status="inactive") | {"id": consent_id}
    response = api.put(f"/Consent/{consent_id}", json=body)
    assert response.status_code == 200, response.text
    with session_scope() as session:
        assert patient_rules(session, patient) == []


def test_no_consent_is_half_applied_in_a_transaction(api: httpx.Client) -> None:
    family = f"Tx{uuid.uuid4().hex[:8]}"
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:11111111-1111-4111-8111-111111111111",
                "resource": {"resourceType": "Patient", "name": [{"family": family}]},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": consent(
                    "x",
                    {"type": "permit", "actor": [actor("Organization/NO")]},
                )
                | {"patient": {"reference": "urn:uuid:11111111-1111-4111-8111-111111111111"}},
                "request": {"method": "POST", "url": "Consent"},
            },
        ],
    }
    response = api.post("", json=bundle)
    assert response.status_code == 400, response.text
    found = api.get("/Patient", params={"family": family}).json()
    assert found.get("total", len(found.get("entry", []))) == 0
