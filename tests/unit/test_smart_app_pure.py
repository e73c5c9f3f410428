"""The pure parts of the patient login: PKCE S256 and the authorization request's checks."""

from __future__ import annotations

import base64
import hashlib

import pytest

from hub.auth.smart_app.authorize_request import (
    AppRegistration,
    NoRedirectError,
    RedirectError,
    check_authorization_request,
)
from hub.auth.smart_app.pkce import PkceError, check_challenge, verifier_matches

AUD = "https://hub.example/fhir"
APP = AppRegistration("app-1", ("https://app.example/cb",), "launch/patient patient/*.rs", True)
VERIFIER = "dBjftJeZ4CVP-mJ92K9ljLuM8B3g1kEbFBYzyQ1pgEjXk"
# BASE64URL(SHA256(verifier)) without padding, computed here independently of the code under test
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode()[:-1]


def params(**changes: str) -> dict[str, str]:
    base = {
        "response_type": "code", "client_id": "app-1", "redirect_uri": "https://app.example/cb",
        "scope": "patient/Appointment.rs launch/patient", "state": "s1", "aud": AUD,
        "code_challenge": CHALLENGE, "code_challenge_method": "S256",
    }  # fmt: skip
    return base | changes


def test_s256_verifier_of_rfc7636() -> None:
    assert verifier_matches(VERIFIER, CHALLENGE)
    assert not verifier_matches(VERIFIER[:-1] + "x", CHALLENGE)
    assert not verifier_matches("short", CHALLENGE)
    assert not verifier_matches(None, CHALLENGE)


@pytest.mark.parametrize("method", ["plain", None, "s256"])
def test_only_s256(method: str | None) -> None:
    with pytest.raises(PkceError):
        check_challenge(CHALLENGE, method)


def test_a_good_request_is_narrowed_to_the_registration() -> None:
    request = check_authorization_request(params(), APP, AUD)
    assert request.scope == "patient/Appointment.rs launch/patient"
    assert request.code_challenge == CHALLENGE


@pytest.mark.parametrize(
    "changes",
    [{"redirect_uri": "https://app.example/cb/"}, {"redirect_uri": ""}, {"client_id": "app-2"}],
)
def test_no_redirect_to_an_unregistered_uri_or_client(changes: dict[str, str]) -> None:
    with pytest.raises(NoRedirectError):
        check_authorization_request(params(**changes), APP, AUD)


def test_a_disabled_app_is_refused_without_redirect() -> None:
    disabled = AppRegistration("app-1", APP.redirect_uris, APP.scope, False)
    with pytest.raises(NoRedirectError):
        check_authorization_request(params(), disabled, AUD)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"state": ""}, "invalid_request"),
        ({"aud": "https://other.example/fhir"}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"scope": ""}, "invalid_scope"),
        ({"scope": "system/*.rs"}, "invalid_scope"),
    ],
)
def test_other_errors_go_back_with_state(changes: dict[str, str], error: str) -> None:
    with pytest.raises(RedirectError) as refused:
        check_authorization_request(params(**changes), APP, AUD)
    assert refused.value.error == error
    assert refused.value.location.startswith("https://app.example/cb?error=" + error)


def test_the_demo_notifier_never_sends_in_production() -> None:
    from hub.auth.smart_app.notifier import LogNotifier, NotifierUnavailable, get_notifier

    assert isinstance(get_notifier("log", production=False), LogNotifier)
    with pytest.raises(NotifierUnavailable):
        get_notifier("log", production=True)
    with pytest.raises(NotifierUnavailable):
        get_notifier("no-such-gateway", production=False)
