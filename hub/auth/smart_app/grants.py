"""The token endpoint's grants for patient apps: ``authorization_code`` (with PKCE) and
``refresh_token`` (rotated).

Codes and refresh tokens are spent by one conditional UPDATE (``... WHERE used = false``), so two
concurrent redemptions cannot both succeed. A second use of a spent code or refresh token is a
replay (RFC 9700 4.14.2): the whole family of refresh tokens from that login is revoked. That
revocation is the one refusal that changes something, so the caller commits refusals.

Why not Authlib's ``AuthorizationCodeGrant``: its server glue exists for Flask and Django only,
and the parts that matter here (single use under concurrency, family revocation) live in the
storage callbacks it would delegate back to us; the PKCE transform is Authlib's (``pkce.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from hub.auth.access_tokens import TokenIssuer
from hub.auth.purpose import PurposeOfUse
from hub.auth.roles import Role
from hub.auth.scopes import ScopeError, narrow
from hub.auth.service import OAuthError
from hub.auth.smart_app.clients import app_registration
from hub.auth.smart_app.models import AuthorizationCodeRow, RefreshTokenRow
from hub.auth.smart_app.pkce import verifier_matches
from hub.auth.smart_app.secrets_digest import digest, new_secret

PATIENT_APP_FACILITY = "PATIENT-APP"  # the facility claim of a patient app's tokens
REFRESH_TOKEN_LIFE = timedelta(days=30)
REFRESH_SCOPES = frozenset({"offline_access", "online_access"})
APP_GRANT_TYPES = frozenset({"authorization_code", "refresh_token"})


@dataclass(frozen=True)
class AppTokens:
    access_token: str
    expires_in: int
    scope: str
    patient: str
    refresh_token: str | None

    def as_response(self) -> dict[str, object]:
        body: dict[str, object] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
            "patient": self.patient,
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


def _client(session: Session, form: dict[str, str]) -> str:
    app = app_registration(session, form.get("client_id", ""))
    if app is None or not app.active:
        raise OAuthError("invalid_client", "unknown or disabled client", 401)
    return app.client_id


def redeem_code(
    session: Session, form: dict[str, str], *, issuer: TokenIssuer, now: datetime
) -> AppTokens:
    """``grant_type=authorization_code``: client_id, code, redirect_uri, code_verifier."""
    client_id = _client(session, form)
    code = session.get(AuthorizationCodeRow, digest(form.get("code", "")))
    if code is None or code.client_id != client_id:
        raise OAuthError("invalid_grant", "unknown authorization code")
    if code.used:
        _revoke_family(session, code.family)
        raise OAuthError("invalid_grant", "authorization code was already used")
    if code.expires_at <= now:
        raise OAuthError("invalid_grant", "authorization code expired")
    if form.get("redirect_uri") != code.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request")
    if not verifier_matches(form.get("code_verifier"), code.code_challenge):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
    spent = session.execute(
        update(AuthorizationCodeRow)
        .where(AuthorizationCodeRow.digest == code.digest, AuthorizationCodeRow.used.is_(False))
        .values(used=True)
        .returning(AuthorizationCodeRow.digest)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if spent is None:  # redeemed concurrently
        _revoke_family(session, code.family)
        raise OAuthError("invalid_grant", "authorization code was already used")
    return _issue(session, issuer, client_id, code.scope, code.patient_id, code.family, now)


def rotate_refresh_token(
    session: Session, form: dict[str, str], *, issuer: TokenIssuer, now: datetime
) -> AppTokens:
    """``grant_type=refresh_token``: a new access token and a new refresh token; the old one is
    spent, and using it again revokes every token of its login."""
    client_id = _client(session, form)
    row = session.get(RefreshTokenRow, digest(form.get("refresh_token", "")))
    if row is None or row.client_id != client_id:
        raise OAuthError("invalid_grant", "unknown refresh token")
    if row.revoked:
        raise OAuthError("invalid_grant", "refresh token was revoked")
    if row.used:
        _revoke_family(session, row.family)
        raise OAuthError("invalid_grant", "refresh token was already used; its login is revoked")
    if row.expires_at <= now:
        raise OAuthError("invalid_grant", "refresh token expired")
    try:  # a narrower scope may be asked for, never a wider one
        scope = narrow(form["scope"], row.scope) if form.get("scope") else row.scope
    except ScopeError as exc:
        raise OAuthError("invalid_scope", str(exc)) from None
    if not scope:
        raise OAuthError("invalid_scope", "none of the requested scopes was granted before")
    spent = session.execute(
        update(RefreshTokenRow)
        .where(
            RefreshTokenRow.digest == row.digest,
            RefreshTokenRow.used.is_(False),
            RefreshTokenRow.revoked.is_(False),
        )
        .values(used=True)
        .returning(RefreshTokenRow.digest)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if spent is None:
        _revoke_family(session, row.family)
        raise OAuthError("invalid_grant", "refresh token was already used; its login is revoked")
    return _issue(session, issuer, client_id, scope, row.patient_id, row.family, now)


def _issue(
    session: Session,
    issuer: TokenIssuer,
    client_id: str,
    scope: str,
    patient: str,
    family: str,
    now: datetime,
) -> AppTokens:
    token, claims = issuer.issue(
        client_id=client_id,
        facility=PATIENT_APP_FACILITY,
        role=Role.patient,
        scope=scope,
        patient=patient,
        purpose_of_use=PurposeOfUse.PATRQT,
        now=now,
    )
    refresh: str | None = None
    if REFRESH_SCOPES & set(scope.split()):
        refresh = new_secret()
        session.add(
            RefreshTokenRow(
                digest=digest(refresh),
                family=family,
                client_id=client_id,
                scope=scope,
                patient_id=patient,
                used=False,
                revoked=False,
                expires_at=now + REFRESH_TOKEN_LIFE,
            )
        )
        session.flush()
    expires_in = int((claims.expires_at - claims.issued_at).total_seconds())
    return AppTokens(token, expires_in, scope, patient, refresh)


def _revoke_family(session: Session, family: str) -> None:
    session.execute(
        update(RefreshTokenRow)
        .where(RefreshTokenRow.family == family)
        .values(revoked=True)
        .execution_options(synchronize_session=False)
    )


def exchange_app_grant(
    session: Session, form: dict[str, str], *, issuer: TokenIssuer, now: datetime
) -> AppTokens:
    if form.get("grant_type") == "authorization_code":
        return redeem_code(session, form, issuer=issuer, now=now)
    return rotate_refresh_token(session, form, issuer=issuer, now=now)
