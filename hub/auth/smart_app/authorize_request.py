"""The checks of an authorization request (RFC 6749 4.1.1 with PKCE and SMART's ``aud``).

Pure: the caller loads the app registration. Two kinds of refusal, as RFC 6749 4.1.2.1 says:
an unknown client or a redirect URI that is not registered exactly is shown to the user and
never redirected to (:class:`NoRedirectError`: it would be an open redirector); every other
error is sent back to the app's redirect URI with its ``state`` (:class:`RedirectError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from hub.auth.scopes import ScopeError, narrow
from hub.auth.smart_app.pkce import PkceError, check_challenge

MAX_STATE = 512


class NoRedirectError(Exception):
    """Refused without redirecting: ``error`` code and description."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class RedirectError(Exception):
    """Refused by redirecting back to the app with ``error`` and ``state``."""

    def __init__(self, error: str, description: str, redirect_uri: str, state: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.location = with_query(
            redirect_uri, {"error": error, "error_description": description, "state": state}
        )


@dataclass(frozen=True)
class AppRegistration:
    client_id: str
    redirect_uris: tuple[str, ...]
    scope: str
    active: bool


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scope: str  # what will be granted: the request narrowed to the app's registration
    state: str
    code_challenge: str


def with_query(uri: str, values: dict[str, str]) -> str:
    separator = "&" if "?" in uri else "?"
    return f"{uri}{separator}{urlencode({k: v for k, v in values.items() if v})}"


def check_authorization_request(
    params: dict[str, str], app: AppRegistration | None, audience: str
) -> AuthorizationRequest:
    """The request to show a login page for; raise NoRedirectError or RedirectError."""
    if app is None or not app.active or params.get("client_id") != app.client_id:
        raise NoRedirectError("invalid_request", "unknown or disabled client_id")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:  # exact string match, no prefix or pattern
        raise NoRedirectError("invalid_request", "redirect_uri is not registered for this client")
    state = params.get("state", "")

    def refuse(error: str, description: str) -> RedirectError:
        return RedirectError(error, description, redirect_uri, state[:MAX_STATE])

    if params.get("response_type") != "code":
        raise refuse("unsupported_response_type", "response_type must be code")
    if not state or len(state) > MAX_STATE:
        raise refuse("invalid_request", f"state is required (at most {MAX_STATE} characters)")
    if params.get("aud", "").rstrip("/") != audience.rstrip("/"):
        raise refuse("invalid_request", "aud must be this server's FHIR base URL")
    try:
        challenge = check_challenge(
            params.get("code_challenge"), params.get("code_challenge_method")
        )
    except PkceError as exc:
        raise refuse("invalid_request", str(exc)) from None
    requested = params.get("scope", "")
    if not requested.split():
        raise refuse("invalid_scope", "scope is required")
    try:
        granted = narrow(requested, app.scope)
    except ScopeError as exc:
        raise refuse("invalid_scope", str(exc)) from None
    if not any(s.startswith("patient/") for s in granted.split()):
        raise refuse("invalid_scope", "none of the requested patient scopes is allowed")
    return AuthorizationRequest(app.client_id, redirect_uri, granted, state, challenge)
