"""Purpose of use as an access-token claim (IHE IUA): the token endpoint's ``purpose_of_use`` and
``reason`` parameters, the role defaults, and ``hub token --purpose --reason``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from hub.auth.purpose import ACT_REASON_SYSTEM, MAX_REASON_LENGTH
from tests.integration.hub_cli import run_hub
from tests.integration.test_auth import (
    ASSERTION_TYPE,
    RegisteredClient,
    assertion_for,
    bearer,
    claims_of,
    register_client,
    token_url,
)
from tests.live import LiveHub


def ask(
    live_hub: LiveHub,
    client: RegisteredClient,
    scope: str | None = "system/Patient.rs",
    **extra: str,
) -> httpx.Response:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion_for(live_hub, client),
    } | extra
    if scope is not None:
        form["scope"] = scope
    return httpx.post(token_url(live_hub), data=form, timeout=30)


def granted_claims(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return claims_of(response.json()["access_token"])


def assert_invalid_request(response: httpx.Response, words: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    assert words in body["error_description"]
    assert "access_token" not in body


@pytest.fixture(scope="module")
def his(live_hub: LiveHub, tmp_path_factory: pytest.TempPathFactory) -> RegisteredClient:
    return register_client(tmp_path_factory.mktemp("his-purpose"), "--role", "facility-system")


@pytest.fixture(scope="module")
def app(live_hub: LiveHub, tmp_path_factory: pytest.TempPathFactory) -> RegisteredClient:
    keys = tmp_path_factory.mktemp("app-purpose")
    return register_client(keys, "--role", "patient", "--patient", "purpose-patient-1")


def test_a_facility_system_gets_treat_by_default(live_hub: LiveHub, his: RegisteredClient) -> None:
    response = ask(live_hub, his)
    claims = granted_claims(response)
    assert response.json()["purpose_of_use"] == "TREAT"
    assert claims["purpose_of_use"] == "TREAT"
    assert claims["extensions"]["ihe_iua"]["purpose_of_use"] == {
        "system": ACT_REASON_SYSTEM,
        "code": "TREAT",
    }
    assert "purpose_reason" not in claims


def test_the_requested_purpose_is_carried(live_hub: LiveHub, his: RegisteredClient) -> None:
    claims = granted_claims(ask(live_hub, his, purpose_of_use="HPAYMT"))
    assert claims["purpose_of_use"] == "HPAYMT"
    assert claims["extensions"]["ihe_iua"]["purpose_of_use"]["code"] == "HPAYMT"


@pytest.fixture(scope="module")
def doctor(api: httpx.Client) -> str:
    """A Practitioner of H001 (the clients' facility): ETREAT tokens name the person acting."""
    body = {"resourceType": "Practitioner", "id": "purpose-dr-1"}
    assert api.put("/Practitioner/purpose-dr-1", json=body).status_code in (200, 201)
    return "Practitioner/purpose-dr-1"


def test_emergency_access_carries_its_reason(
    live_hub: LiveHub, his: RegisteredClient, doctor: str
) -> None:
    reason = "unconscious patient in the emergency room"
    response = ask(live_hub, his, purpose_of_use="ETREAT", reason=reason, practitioner=doctor)
    claims = granted_claims(response)
    assert claims["purpose_of_use"] == "ETREAT"
    assert claims["purpose_reason"] == reason
    with bearer(live_hub, response.json()["access_token"]) as client:
        assert client.get("/Patient", params={"_count": "1"}).status_code == 200


def test_emergency_access_needs_a_reason(live_hub: LiveHub, his: RegisteredClient) -> None:
    assert_invalid_request(ask(live_hub, his, purpose_of_use="ETREAT"), "requires a reason")
    assert_invalid_request(
        ask(live_hub, his, purpose_of_use="ETREAT", reason="   "), "requires a reason"
    )


def test_a_reason_too_long_is_refused(live_hub: LiveHub, his: RegisteredClient) -> None:
    response = ask(live_hub, his, purpose_of_use="ETREAT", reason="x" * (MAX_REASON_LENGTH + 1))
    assert_invalid_request(response, f"at most {MAX_REASON_LENGTH} characters")


@pytest.mark.parametrize("value", ["MARKETING", "treat", "ETREAT TREAT"])
def test_a_purpose_outside_the_value_set_is_refused(
    live_hub: LiveHub, his: RegisteredClient, value: str
) -> None:
    assert_invalid_request(ask(live_hub, his, purpose_of_use=value), "must be one of")


def test_a_patient_app_gets_patrqt_and_nothing_else(
    live_hub: LiveHub, app: RegisteredClient
) -> None:
    claims = granted_claims(ask(live_hub, app, scope=None))
    assert claims["purpose_of_use"] == "PATRQT"
    response = ask(live_hub, app, scope=None, purpose_of_use="TREAT")
    assert_invalid_request(response, "may not claim purpose TREAT")


def test_hub_token_takes_purpose_and_reason(live_hub: LiveHub, doctor: str) -> None:
    result = run_hub(
        "token", "--facility", "H001", "--role", "practitioner",
        "--purpose", "ETREAT", "--reason", "cardiac arrest", "--practitioner", doctor,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    claims = claims_of(result.stdout.strip())
    assert (claims["purpose_of_use"], claims["purpose_reason"]) == ("ETREAT", "cardiac arrest")
    default = run_hub("token", "--facility", "H001", "--role", "practitioner")
    assert claims_of(default.stdout.strip())["purpose_of_use"] == "TREAT"
    auditor = run_hub("token", "--facility", "HUB", "--role", "auditor")
    assert "purpose_of_use" not in claims_of(auditor.stdout.strip())


@pytest.mark.parametrize(
    "options",
    [("--purpose", "BOGUS"), ("--purpose", "ETREAT"), ("--reason", "no purpose")],
)
def test_hub_token_refuses_a_bad_purpose(live_hub: LiveHub, options: tuple[str, ...]) -> None:
    result = run_hub("token", "--facility", "H001", "--role", "auditor", *options)
    assert result.returncode == 2
    assert result.stdout.strip() == ""
