"""SMART Backend Services end to end: client registration, the token endpoint, and what a token
may reach on the live hub (scopes, the patient compartment, expiry, signatures, roles)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.auth.access_tokens import TokenIssuer
from hub.auth.client_assertions import make_client_assertion
from hub.auth.roles import Role
from hub.auth.service import get_issuer
from hub.auth.signing_keys import generate_signing_key
from hub.fhir.capability import SMART_OAUTH_URIS
from hub.settings import get_settings
from tests.integration.hub_cli import run_hub
from tests.live import LiveHub, TokenFactory

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    private_jwk: dict[str, Any]


def register_client(keys_dir: Path, *options: str) -> RegisteredClient:
    """``hub clients keygen`` then ``hub clients add``; the client id is stdout's last line."""
    keygen = run_hub("clients", "keygen", "--out", str(keys_dir))
    assert keygen.returncode == 0, keygen.stderr
    jwks = keys_dir / "client.jwks.json"
    added = run_hub("clients", "add", "--facility", "H001", "--jwks", str(jwks), *options)
    assert added.returncode == 0, added.stderr
    client_id = added.stdout.strip().splitlines()[-1]
    uuid.UUID(client_id)
    return RegisteredClient(client_id, json.loads((keys_dir / "client.jwk.json").read_text()))


def token_url(live_hub: LiveHub) -> str:
    return f"{live_hub.base_url}/auth/token"


def assertion_for(live_hub: LiveHub, client: RegisteredClient, **overrides: Any) -> str:
    args: dict[str, Any] = {"client_id": client.client_id, "token_url": token_url(live_hub)}
    return make_client_assertion(client.private_jwk, **(args | overrides))


def request_token(
    live_hub: LiveHub,
    assertion: str,
    *,
    scope: str | None = "system/Patient.rs",
    grant_type: str = "client_credentials",
) -> httpx.Response:
    form = {
        "grant_type": grant_type,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    if scope is not None:
        form["scope"] = scope
    return httpx.post(token_url(live_hub), data=form, timeout=30)


def bearer(live_hub: LiveHub, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": FHIR_JSON}
    return httpx.Client(base_url=live_hub.fhir_url, headers=headers, timeout=30)


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def assert_invalid_client(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert "access_token" not in response.json()


def entry_refs(bundle: dict[str, Any]) -> set[str]:
    return {
        f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle.get("entry", [])
    }


# --- a facility system ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def system_client(live_hub: LiveHub, tmp_path_factory: pytest.TempPathFactory) -> RegisteredClient:
    return register_client(tmp_path_factory.mktemp("his"), "--role", "facility-system")


def test_client_credentials_grant_narrows_the_scope(
    live_hub: LiveHub, system_client: RegisteredClient
) -> None:
    response = request_token(live_hub, assertion_for(live_hub, system_client))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    grant = response.json()
    assert grant["token_type"] == "bearer"
    assert grant["scope"] == "system/Patient.rs"
    assert 0 < grant["expires_in"] <= 3600
    assert "patient" not in grant
    claims = claims_of(grant["access_token"])
    assert claims["sub"] == system_client.client_id
    assert claims["facility"] == "H001"
    assert claims["scope"] == "system/Patient.rs"

    with bearer(live_hub, grant["access_token"]) as fhir:
        assert fhir.get("/Patient", params={"_count": "1"}).status_code == 200
        created = fhir.post(
            "/Patient",
            json={"resourceType": "Patient", "gender": "female", "name": [{"text": "王芳"}]},
        )
        assert created.status_code == 403, created.text
        assert created.json()["issue"][0]["code"] == "forbidden"
        assert fhir.get("/Observation").status_code == 403


def test_replayed_assertion_is_refused(live_hub: LiveHub, system_client: RegisteredClient) -> None:
    assertion = assertion_for(live_hub, system_client)
    assert request_token(live_hub, assertion).status_code == 200
    assert_invalid_client(request_token(live_hub, assertion))


def test_assertion_signed_by_another_key_is_refused(
    live_hub: LiveHub, system_client: RegisteredClient
) -> None:
    stranger = RegisteredClient(system_client.client_id, generate_signing_key("ES256"))
    assert_invalid_client(request_token(live_hub, assertion_for(live_hub, stranger)))
    # The same key id as the registered key, so the signature check itself must fail.
    kid = system_client.private_jwk["kid"]
    impostor = RegisteredClient(system_client.client_id, stranger.private_jwk | {"kid": kid})
    assert_invalid_client(request_token(live_hub, assertion_for(live_hub, impostor)))


def test_assertion_for_another_audience_is_refused(
    live_hub: LiveHub, system_client: RegisteredClient
) -> None:
    assertion = assertion_for(
        live_hub, system_client, token_url="https://elsewhere.example/auth/token"
    )
    assert_invalid_client(request_token(live_hub, assertion))


def test_expired_assertion_is_refused(live_hub: LiveHub, system_client: RegisteredClient) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    assertion = assertion_for(live_hub, system_client, now=an_hour_ago)
    assert_invalid_client(request_token(live_hub, assertion))


def test_unknown_client_is_refused(live_hub: LiveHub) -> None:
    unknown = RegisteredClient(str(uuid.uuid4()), generate_signing_key("ES256"))
    assert_invalid_client(request_token(live_hub, assertion_for(live_hub, unknown)))


def test_unsupported_grant_type(live_hub: LiveHub, system_client: RegisteredClient) -> None:
    response = request_token(
        live_hub, assertion_for(live_hub, system_client), grant_type="password"
    )  # authorization_code and refresh_token are patient apps' (test_patient_login.py)
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_scope_outside_the_registration_is_refused(
    live_hub: LiveHub, system_client: RegisteredClient
) -> None:
    response = request_token(
        live_hub, assertion_for(live_hub, system_client), scope="patient/Observation.rs"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


# --- a patient app -------------------------------------------------------------------------


@dataclass(frozen=True)
class Compartments:
    me: str
    other: str
    other_family: str
    my_observation: str
    other_observation: str
    client: RegisteredClient


def _observation(patient: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "valueQuantity": {"value": 131, "unit": "g/L"},
        **extra,
    }


def _create(api: httpx.Client, resource: dict[str, Any]) -> str:
    response = api.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    resource_id: str = response.json()["id"]
    return resource_id


@pytest.fixture(scope="module")
def compartments(
    live_hub: LiveHub, api: httpx.Client, tmp_path_factory: pytest.TempPathFactory
) -> Compartments:
    other_family = f"Other{uuid.uuid4().hex[:8]}"
    me = _create(api, {"resourceType": "Patient", "name": [{"family": "Mine"}]})
    other = _create(api, {"resourceType": "Patient", "name": [{"family": other_family}]})
    # My observation names the other patient as performer: includes must not follow it.
    mine = _create(api, _observation(me, performer=[{"reference": f"Patient/{other}"}]))
    theirs = _create(api, _observation(other))
    client = register_client(tmp_path_factory.mktemp("app"), "--role", "patient", "--patient", me)
    return Compartments(me, other, other_family, mine, theirs, client)


@pytest.fixture(scope="module")
def patient_app(live_hub: LiveHub, compartments: Compartments) -> Iterator[httpx.Client]:
    response = request_token(live_hub, assertion_for(live_hub, compartments.client), scope=None)
    assert response.status_code == 200, response.text
    grant = response.json()
    assert grant["patient"] == compartments.me
    assert claims_of(grant["access_token"])["patient"] == compartments.me
    with bearer(live_hub, grant["access_token"]) as client:
        yield client


def test_patient_reads_only_its_own_records(
    patient_app: httpx.Client, compartments: Compartments
) -> None:
    c = compartments
    assert patient_app.get(f"/Patient/{c.me}").status_code == 200
    assert patient_app.get(f"/Observation/{c.my_observation}").status_code == 200
    # another patient's records answer like ids that do not exist: nothing to enumerate
    assert patient_app.get(f"/Patient/{c.other}").status_code == 404
    assert patient_app.get(f"/Observation/{c.other_observation}").status_code == 404
    assert patient_app.get(f"/Observation/{c.other_observation}/_history/1").status_code == 404
    assert patient_app.get(f"/Patient/{c.other}/_history").status_code == 404


def test_patient_search_returns_only_its_compartment(
    patient_app: httpx.Client, compartments: Compartments
) -> None:
    c = compartments
    bundle = patient_app.get("/Observation", params={"_count": "1000"}).json()
    assert bundle["total"] >= 1
    assert {e["resource"]["subject"]["reference"] for e in bundle["entry"]} == {f"Patient/{c.me}"}
    assert entry_refs(patient_app.get("/Patient").json()) == {f"Patient/{c.me}"}
    for params in (
        {"subject": f"Patient/{c.other}"},
        {"patient": c.other},
        {"_id": c.other_observation},
        {"subject:Patient.family": c.other_family},
    ):
        found = patient_app.get("/Observation", params=params)
        assert found.status_code == 200, found.text
        assert found.json()["total"] == 0, params
    assert patient_app.get("/Patient", params={"_id": c.other}).json()["total"] == 0


def test_includes_do_not_leave_the_compartment(
    patient_app: httpx.Client, compartments: Compartments
) -> None:
    c = compartments
    included = patient_app.get(
        "/Observation",
        params=[
            ("_id", c.my_observation),
            ("_include", "Observation:performer"),
            ("_include", "Observation:subject"),
        ],
    )
    assert included.status_code == 200, included.text
    assert entry_refs(included.json()) == {f"Observation/{c.my_observation}", f"Patient/{c.me}"}

    revincluded = patient_app.get(
        "/Patient", params={"_revinclude": "Observation:performer", "_count": "1000"}
    )
    assert revincluded.status_code == 200, revincluded.text
    assert f"Observation/{c.other_observation}" not in entry_refs(revincluded.json())
    assert f"Patient/{c.other}" not in entry_refs(revincluded.json())

    revincluded = patient_app.get("/Patient", params={"_revinclude": "Observation:subject"})
    assert entry_refs(revincluded.json()) == {f"Patient/{c.me}", f"Observation/{c.my_observation}"}


def test_batch_entries_stay_in_the_compartment(
    patient_app: httpx.Client, compartments: Compartments
) -> None:
    c = compartments
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": f"Patient/{c.other}"}},
            {"request": {"method": "GET", "url": f"Observation?subject=Patient/{c.other}"}},
            {"request": {"method": "GET", "url": f"Patient/{c.me}"}},
        ],
    }
    response = patient_app.post("", json=batch)
    assert response.status_code == 200, response.text
    other, search, mine = response.json()["entry"]
    assert other["response"]["status"].startswith("404")
    assert "resource" not in other
    assert search["resource"]["total"] == 0
    assert mine["response"]["status"].startswith("200")
    assert mine["resource"]["id"] == c.me


def test_patient_cannot_write_into_another_compartment(
    patient_app: httpx.Client, compartments: Compartments
) -> None:
    c = compartments
    assert patient_app.post("/Observation", json=_observation(c.other)).status_code == 403
    assert patient_app.post("/Observation", json=_observation(c.me)).status_code == 403  # scope

    def appointment(patient: str) -> dict[str, Any]:
        return {
            "resourceType": "Appointment",
            "status": "proposed",
            "participant": [{"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"}],
        }

    assert patient_app.post("/Appointment", json=appointment(c.other)).status_code == 403
    own = patient_app.post("/Appointment", json=appointment(c.me))
    assert own.status_code == 201, own.text


# --- tokens the hub must refuse ------------------------------------------------------------


def _refused(live_hub: LiveHub, token: str) -> httpx.Response:
    with bearer(live_hub, token) as client:
        response = client.get("/Patient", params={"_count": "1"})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["issue"][0]["code"] == "login"
    return response


def test_missing_token_is_refused(live_hub: LiveHub) -> None:
    response = httpx.get(f"{live_hub.fhir_url}/Patient", timeout=30)
    assert response.status_code == 401


def test_expired_token_is_refused(live_hub: LiveHub, make_token: TokenFactory) -> None:
    token, claims = get_issuer().issue(
        client_id="expired-client",
        facility="H001",
        role=Role.practitioner,
        scope="user/*.cruds",
        now=datetime.now(UTC) - timedelta(hours=2),
    )
    assert claims.expires_at < datetime.now(UTC)
    _refused(live_hub, token)


def test_tampered_token_is_refused(live_hub: LiveHub, make_token: TokenFactory) -> None:
    token = make_token(role=Role.auditor)
    with bearer(live_hub, token) as client:
        assert client.get("/Patient", params={"_count": "1"}).status_code == 200
    header, payload, signature = token.split(".")
    claims = claims_of(token) | {"role": "operator", "scope": "system/*.cruds"}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    _refused(live_hub, f"{header}.{forged}.{signature}")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    _refused(live_hub, f"{header}.{payload}.{flipped}")


def test_token_signed_by_a_foreign_key_is_refused(
    live_hub: LiveHub, make_token: TokenFactory
) -> None:
    settings = get_settings()
    foreign = TokenIssuer(
        generate_signing_key("ES256"),
        issuer=settings.public_base_url,
        audience=settings.fhir_base_url,
    )
    token, _ = foreign.issue(
        client_id="foreign", facility="H001", role=Role.operator, scope="system/*.cruds"
    )
    _refused(live_hub, token)


def test_auditor_reads_but_cannot_write(
    client_for: Callable[..., httpx.Client], api: httpx.Client
) -> None:
    patient_id = _create(
        api, {"resourceType": "Patient", "gender": "male", "name": [{"text": "张伟"}]}
    )
    auditor = client_for(role=Role.auditor)
    current = auditor.get(f"/Patient/{patient_id}")
    assert current.status_code == 200
    assert auditor.post("/Patient", json={"resourceType": "Patient"}).status_code == 403
    assert auditor.put(f"/Patient/{patient_id}", json=current.json()).status_code == 403
    assert auditor.delete(f"/Patient/{patient_id}").status_code == 403
    assert api.get(f"/Patient/{patient_id}").json()["meta"]["versionId"] == "1"


# --- discovery and the CLI -----------------------------------------------------------------


def test_metadata_and_smart_configuration_name_the_token_endpoint(live_hub: LiveHub) -> None:
    expected = token_url(live_hub)
    capability = httpx.get(f"{live_hub.fhir_url}/metadata", timeout=30).json()
    security = capability["rest"][0]["security"]
    oauth = next(e for e in security["extension"] if e["url"] == SMART_OAUTH_URIS)
    assert {"url": "token", "valueUri": expected} in oauth["extension"]

    smart = httpx.get(f"{live_hub.base_url}/.well-known/smart-configuration", timeout=30).json()
    assert smart["token_endpoint"] == expected
    assert "client_credentials" in smart["grant_types_supported"]
    assert "private_key_jwt" in smart["token_endpoint_auth_methods_supported"]


def test_hub_token_prints_a_token_the_hub_accepts(live_hub: LiveHub) -> None:
    result = run_hub("token", "--facility", "H001", "--role", "practitioner")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    token = lines[0]
    assert len(token.split(".")) == 3
    assert claims_of(token)["role"] == "practitioner"
    with bearer(live_hub, token) as client:
        assert client.get("/Patient", params={"_count": "1"}).status_code == 200


def test_hub_token_refuses_an_unknown_facility(live_hub: LiveHub) -> None:
    result = run_hub("token", "--facility", "NOPE999", "--role", "practitioner")
    assert result.returncode != 0
    assert result.stdout.strip() == ""
