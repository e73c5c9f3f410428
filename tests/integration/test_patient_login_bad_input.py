"""Bad input at the patient login and the app grants: each refused with an OAuth error (or an
error page) and the right status, and nothing else changes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from hub.auth.smart_app.rate_limit import PER_PERSON
from tests.integration.patient_app import (
    REDIRECT_URI,
    PatientApp,
    hidden,
    new_person_record,
    new_resident_id,
    pkce_pair,
    query_of,
)


@pytest.fixture
def resident(api: httpx.Client) -> str:
    resident_id = new_resident_id()
    new_person_record(api, resident_id, ("褚", "静"))
    return resident_id


def test_forged_redirect_uri_is_never_redirected_to(make_app: Callable[[], PatientApp]) -> None:
    app = make_app()
    for forged in ("https://evil.example/cb", REDIRECT_URI + "/x", REDIRECT_URI + "?a=1"):
        response = app.authorize(redirect_uri=forged)
        assert response.status_code == 400 and "location" not in response.headers
        assert "invalid_request" in response.text
    unknown = app.authorize(client_id="no-such-app")
    assert unknown.status_code == 400 and "location" not in unknown.headers


def test_plain_or_missing_pkce_and_missing_state_are_sent_back(
    make_app: Callable[[], PatientApp],
) -> None:
    app = make_app()
    cases = [
        {"code_challenge_method": "plain"},
        {"code_challenge": ""},
        {"state": ""},
        {"aud": "https://elsewhere.example/fhir"},
    ]
    for changes in cases:
        response = app.authorize(**changes)
        assert response.status_code == 302, changes
        values = query_of(response.headers["location"])
        assert response.headers["location"].startswith(REDIRECT_URI)
        assert values["error"] == "invalid_request", changes
    wrong_type = query_of(app.authorize(response_type="token").headers["location"])
    assert wrong_type["error"] == "unsupported_response_type"
    assert wrong_type["state"] == app.state
    no_scope = query_of(app.authorize(scope="system/*.cruds").headers["location"])
    assert no_scope["error"] == "invalid_scope"


def test_authorize_by_post_shows_the_login_page(make_app: Callable[[], PatientApp]) -> None:
    app = make_app()
    response = app.browser.post("/auth/authorize", data=app.authorize_params())
    assert response.status_code == 200 and hidden(response.text, "login_request")


def test_malformed_or_forged_login_forms(make_app: Callable[[], PatientApp], resident: str) -> None:
    app = make_app()
    page = app.authorize().text
    malformed = app.ask_code(page, "12345")
    assert malformed.status_code == 400 and "not a valid resident ID" in malformed.text
    wrong_check_digit = resident[:17] + ("0" if resident[17] != "0" else "1")
    assert app.ask_code(page, wrong_check_digit).status_code == 400
    # a form without the login page's cookie (cross-site) or with another CSRF token
    stranger = httpx.post(
        f"{app.base_url}/auth/login/code",
        data={"login_request": hidden(page, "login_request"),
              "csrf_token": hidden(page, "csrf_token"), "resident_id": resident},
    )  # fmt: skip
    assert stranger.status_code == 403
    forged = app.browser.post(
        "/auth/login/code",
        data={"login_request": hidden(page, "login_request"), "csrf_token": "forged",
              "resident_id": resident},
    )  # fmt: skip
    assert forged.status_code == 403


def test_wrong_code_then_replayed_login(make_app: Callable[[], PatientApp], resident: str) -> None:
    app = make_app()
    code_page = app.ask_code(app.authorize().text, resident)
    right = app.one_time_code(code_page.text)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    refused = app.verify(code_page.text, wrong)
    assert refused.status_code == 400 and "location" not in refused.headers
    accepted = app.verify(code_page.text, right)
    assert accepted.status_code == 302 and "code" in query_of(accepted.headers["location"])
    replayed = app.verify(code_page.text, right)
    assert replayed.status_code == 400 and "location" not in replayed.headers


def test_unknown_resident_gets_the_same_page_and_no_code(
    make_app: Callable[[], PatientApp],
) -> None:
    app = make_app()
    code_page = app.ask_code(app.authorize().text, new_resident_id())
    assert code_page.status_code == 200
    tag = hidden(code_page.text, "login_request")[:8]
    assert f"patient login {tag}" not in app.log_path.read_text(errors="replace")
    assert app.verify(code_page.text, "000000").status_code == 400


def test_wrong_verifier_then_reused_code(make_app: Callable[[], PatientApp], resident: str) -> None:
    app = make_app()
    code = app.log_in(resident)
    other_verifier, _ = pkce_pair()
    wrong = app.redeem(code, verifier=other_verifier)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    forged = app.token(
        grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI + "/x",
        code_verifier=app.verifier,
    )  # fmt: skip
    assert forged.status_code == 400 and forged.json()["error"] == "invalid_grant"
    first = app.redeem(code)  # nothing changed: the right verifier still redeems it
    assert first.status_code == 200, first.text
    reused = app.redeem(code)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # the code's replay revoked the refresh token it had led to
    refresh = app.token(grant_type="refresh_token", refresh_token=first.json()["refresh_token"])
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


def test_code_of_another_app_and_unknown_client(
    make_app: Callable[[], PatientApp], resident: str
) -> None:
    app, thief = make_app(), make_app()
    code = app.log_in(resident)
    stolen = thief.token(
        grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI,
        code_verifier=app.verifier,
    )  # fmt: skip
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    unknown = app.token(grant_type="authorization_code", code=code, client_id="nobody")
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    assert app.redeem(code).status_code == 200


def test_code_requests_per_resident_id_are_rate_limited(
    make_app: Callable[[], PatientApp], resident: str
) -> None:
    app = make_app()
    for _ in range(PER_PERSON.attempts):
        assert app.ask_code(app.authorize().text, resident).status_code == 200
    limited = app.ask_code(app.authorize().text, resident)
    assert limited.status_code == 429
    # another app (another client and address key) is limited by the ID all the same
    other = make_app()
    assert other.ask_code(other.authorize().text, resident).status_code == 429
