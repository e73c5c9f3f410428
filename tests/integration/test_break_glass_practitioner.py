"""Break-glass names the clinician: an emergency (ETREAT) token must carry the practitioner the
facility acts for, registered by that facility; the audit record of the access names that
Practitioner as the requesting agent, and the break-glass review lists it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub.audit.models import AuditRecord
from hub.auth.roles import Role
from hub.db import session_scope
from tests.integration.hub_cli import run_hub
from tests.integration.test_auth import RegisteredClient, bearer, claims_of, register_client
from tests.integration.test_auth_purpose import ask, assert_invalid_request, granted_claims
from tests.live import LiveHub, TokenFactory

REASON = "unconscious patient in the emergency room"


def _new_patient(api: httpx.Client) -> str:
    body = {"resourceType": "Patient", "name": [{"family": "赵", "given": ["急"]}],
            "gender": "female", "birthDate": "1950-01-02"}  # fmt: skip
    created = api.post("/Patient", json=body)
    assert created.status_code == 201, created.text
    patient_id: str = created.json()["id"]
    return patient_id


def _practitioner(live_hub: LiveHub, make_token: TokenFactory, facility: str, pid: str) -> str:
    """A Practitioner recorded by ``facility`` (its meta.source), as its HIS would register it."""
    body = {"resourceType": "Practitioner", "id": pid, "name": [{"family": "王", "given": ["医"]}]}
    with bearer(live_hub, make_token(facility=facility)) as client:
        response = client.put(f"/Practitioner/{pid}", json=body)
    assert response.status_code in (200, 201), response.text
    return f"Practitioner/{pid}"


@pytest.fixture(scope="module")
def own_doctor(live_hub: LiveHub, make_token: TokenFactory) -> str:
    return _practitioner(live_hub, make_token, "H001", "bg-h001-wang")


@pytest.fixture(scope="module")
def other_doctor(live_hub: LiveHub, make_token: TokenFactory) -> str:
    return _practitioner(live_hub, make_token, "H002", "bg-h002-li")


@pytest.fixture(scope="module")
def his(live_hub: LiveHub, tmp_path_factory: pytest.TempPathFactory) -> RegisteredClient:
    keys = tmp_path_factory.mktemp("his-break-glass")
    return register_client(keys, "--role", "facility-system")  # a client of H001


def test_an_emergency_token_without_a_practitioner_is_refused(
    live_hub: LiveHub, his: RegisteredClient
) -> None:
    response = ask(live_hub, his, purpose_of_use="ETREAT", reason=REASON)
    assert_invalid_request(response, "requires the practitioner acting")


def test_a_practitioner_of_another_facility_is_refused(
    live_hub: LiveHub, his: RegisteredClient, other_doctor: str
) -> None:
    response = ask(live_hub, his, purpose_of_use="ETREAT", reason=REASON, practitioner=other_doctor)
    assert_invalid_request(response, "not registered by the token's facility")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("Practitioner/bg-nobody", "not registered at the hub"),
        ("Patient/bg-h001-wang", "must be a reference Practitioner/<id>"),
        ("bg-h001-wang", "must be a reference Practitioner/<id>"),
        ("Practitioner/a b", "must be a reference Practitioner/<id>"),
    ],
)
def test_an_unknown_or_malformed_practitioner_is_refused(
    live_hub: LiveHub, his: RegisteredClient, own_doctor: str, value: str, words: str
) -> None:
    response = ask(live_hub, his, purpose_of_use="ETREAT", reason=REASON, practitioner=value)
    assert_invalid_request(response, words)


def test_a_patient_app_cannot_name_a_practitioner(
    live_hub: LiveHub, tmp_path_factory: pytest.TempPathFactory, own_doctor: str
) -> None:
    keys = tmp_path_factory.mktemp("app-break-glass")
    app = register_client(keys, "--role", "patient", "--patient", "bg-patient-1")
    response = ask(live_hub, app, scope=None, practitioner=own_doctor)
    assert_invalid_request(response, "only accepted for facility-system and practitioner")


def _last_read(client_id: str) -> AuditRecord:
    with session_scope() as session:
        record = session.execute(
            select(AuditRecord)
            .where(AuditRecord.client_id == client_id, AuditRecord.interaction == "read")
            .order_by(AuditRecord.seq.desc())
            .limit(1)
        ).scalar_one()
        session.expunge(record)
    return record


def test_the_emergency_access_names_the_practitioner(
    live_hub: LiveHub,
    his: RegisteredClient,
    own_doctor: str,
    api: httpx.Client,
    make_token: TokenFactory,
) -> None:
    response = ask(live_hub, his, purpose_of_use="ETREAT", reason=REASON, practitioner=own_doctor)
    claims = granted_claims(response)
    assert claims["practitioner"] == own_doctor == response.json()["practitioner"]
    patient_id = _new_patient(api)
    with bearer(live_hub, response.json()["access_token"]) as emergency:
        assert emergency.get(f"/Patient/{patient_id}").status_code == 200
    record = _last_read(his.client_id)
    assert (record.practitioner, record.purpose_of_use) == (own_doctor, "ETREAT")

    auditor = make_token(role=Role.auditor, facility="HUB")
    with bearer(live_hub, auditor) as client:
        event: dict[str, Any] = client.get(f"/AuditEvent/{record.seq}").json()
    client_agent, person = event["agent"]
    assert client_agent["who"]["identifier"]["value"] == his.client_id
    assert client_agent["requestor"] is False
    assert person["who"] == {"reference": own_doctor}
    assert person["requestor"] is True
    assert person["purposeOfUse"][0]["coding"][0]["code"] == "ETREAT"

    with httpx.Client(
        base_url=live_hub.base_url, headers={"Authorization": f"Bearer {auditor}"}, timeout=30
    ) as client:
        listed = client.get("/audit/break-glass", params={"_count": "100"})
    assert listed.status_code == 200, listed.text
    item = next(i for i in listed.json()["items"] if i["seq"] == record.seq)
    assert (item["practitioner"], item["client"]) == (own_doctor, his.client_id)


def test_an_ordinary_access_names_only_the_client(
    live_hub: LiveHub, his: RegisteredClient, api: httpx.Client, make_token: TokenFactory
) -> None:
    response = ask(live_hub, his)  # TREAT, no practitioner: allowed, attributed to the client
    assert "practitioner" not in granted_claims(response)
    patient_id = _new_patient(api)
    with bearer(live_hub, response.json()["access_token"]) as client:
        assert client.get(f"/Patient/{patient_id}").status_code == 200
    record = _last_read(his.client_id)
    assert record.practitioner is None
    with bearer(live_hub, make_token(role=Role.auditor, facility="HUB")) as client:
        event = client.get(f"/AuditEvent/{record.seq}").json()
    assert [a["requestor"] for a in event["agent"]] == [True]


def test_hub_token_names_the_practitioner(
    live_hub: LiveHub, own_doctor: str, other_doctor: str
) -> None:
    emergency = ("token", "--facility", "H001", "--role", "practitioner",
                 "--purpose", "ETREAT", "--reason", "cardiac arrest")  # fmt: skip
    missing = run_hub(*emergency)
    assert missing.returncode == 2
    assert "requires the practitioner acting" in missing.stderr
    assert "Traceback" not in missing.stderr
    foreign = run_hub(*emergency, "--practitioner", other_doctor)
    assert foreign.returncode == 2
    assert "not registered by the token's facility" in foreign.stderr
    auditor = run_hub("token", "--facility", "HUB", "--role", "auditor",
                      "--practitioner", own_doctor)  # fmt: skip
    assert auditor.returncode == 2
    assert "only accepted for facility-system and practitioner" in auditor.stderr
    granted = run_hub(*emergency, "--practitioner", own_doctor)
    assert granted.returncode == 0, granted.stderr
    claims = claims_of(granted.stdout.strip())
    assert (claims["purpose_of_use"], claims["practitioner"]) == ("ETREAT", own_doctor)
