"""Staff sign-in through a region's own OpenID Connect provider (authorization code + PKCE).

The provider is found by its discovery document; the ID token is verified with joserfc
against the provider's published keys (issuer, audience, expiry, nonce), as the hub's own
tokens are. Two claims (``HUB_CONSOLE_OIDC_FACILITY_CLAIM``, ``HUB_CONSOLE_OIDC_ROLE_CLAIM``)
map the person to a facility and a console role; auditors and operators must have signed in
with a second factor (``amr`` naming ``mfa``, ``otp`` or ``hwk``, RFC 8176). The person gets a
staff account of their own (``oidc.<hash of issuer and subject>``), kept in step with the claims
at each sign-in and refused when disabled with ``hub users disable``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import errors, jwt
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session

from hub.auth.jwt_claims import claims_registry, validate_claims
from hub.console.models import StaffUserRow
from hub.console.staff import TOTP_REQUIRED, StaffRole
from hub.settings import Settings

TIMEOUT_SECONDS = 10.0
SECOND_FACTORS = frozenset({"mfa", "otp", "hwk", "sms"})
NO_PASSWORD = "!oidc"  # never an Argon2 hash: a password sign-in cannot match it
ALGORITHMS = ["RS256", "ES256", "PS256"]


class OidcError(Exception):
    """A sign-in the provider or its answer does not support; the message names the check."""


@dataclass(frozen=True)
class Pending:
    """What the browser keeps (a cookie) between leaving for the provider and coming back."""

    state: str
    nonce: str
    verifier: str

    def cookie(self) -> str:
        return f"{self.state}.{self.nonce}.{self.verifier}"

    @classmethod
    def from_cookie(cls, value: str) -> Pending | None:
        parts = value.split(".")
        return cls(*parts) if len(parts) == 3 and all(parts) else None


@dataclass(frozen=True)
class OidcPerson:
    subject: str
    display_name: str
    facility: str
    role: StaffRole


def enabled(settings: Settings) -> bool:
    return bool(settings.console_oidc_issuer and settings.console_oidc_client_id)


@lru_cache(maxsize=4)
def discovery(issuer: str) -> dict[str, Any]:
    """The provider's metadata (cached for the process)."""
    url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    try:
        response = httpx.get(url, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        metadata: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcError(f"the provider's discovery document is not available: {exc}") from None
    if metadata.get("issuer") != issuer:
        raise OidcError("the provider's discovery document names another issuer")
    return metadata


def start(settings: Settings, redirect_uri: str) -> tuple[str, Pending]:
    """The provider's authorization URL to send the browser to, and what to keep meanwhile."""
    metadata = discovery(settings.console_oidc_issuer)
    pending = Pending(generate_token(32), generate_token(32), generate_token(64))
    url = prepare_grant_uri(
        metadata["authorization_endpoint"], settings.console_oidc_client_id, "code",
        redirect_uri=redirect_uri, scope="openid profile", state=pending.state,
        nonce=pending.nonce, code_challenge=create_s256_code_challenge(pending.verifier),
        code_challenge_method="S256",
    )  # fmt: skip
    return str(url), pending


def finish(settings: Settings, code: str, pending: Pending, redirect_uri: str) -> OidcPerson:
    """Exchange the code, verify the ID token, and map its claims to a staff member."""
    metadata = discovery(settings.console_oidc_issuer)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": pending.verifier}  # fmt: skip
    auth = (settings.console_oidc_client_id, settings.console_oidc_client_secret)
    try:
        answer = httpx.post(
            metadata["token_endpoint"], data=form, auth=auth, timeout=TIMEOUT_SECONDS
        )
        answer.raise_for_status()
        id_token = str(answer.json()["id_token"])
        keys = httpx.get(metadata["jwks_uri"], timeout=TIMEOUT_SECONDS)
        keys.raise_for_status()
        key_set = KeySet.import_key_set(keys.json())
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise OidcError(f"the provider did not give an ID token: {type(exc).__name__}") from None
    return person_of(settings, verified_claims(settings, id_token, key_set, pending.nonce))


def verified_claims(
    settings: Settings, id_token: str, key_set: KeySet, nonce: str
) -> dict[str, Any]:
    try:
        token = jwt.decode(id_token, key_set, algorithms=ALGORITHMS)
    except (errors.JoseError, ValueError) as exc:
        raise OidcError(f"the ID token's signature does not verify: {exc}") from None
    registry = claims_registry(
        datetime.now(UTC), ("exp", "iat", "sub"), iss=settings.console_oidc_issuer,
        aud=settings.console_oidc_client_id, nonce=nonce,
    )  # fmt: skip
    validate_claims(registry, token.claims, OidcError, "the ID token")
    return dict(token.claims)


def person_of(settings: Settings, claims: dict[str, Any]) -> OidcPerson:
    """The facility and role the claims name; refused when missing or not a console role."""
    facility = claims.get(settings.console_oidc_facility_claim)
    role = claims.get(settings.console_oidc_role_claim)
    if not isinstance(facility, str) or not facility.strip() or len(facility) > 64:
        raise OidcError(f"the ID token names no facility ({settings.console_oidc_facility_claim})")
    if role not in set(StaffRole):
        raise OidcError(f"the ID token names no console role ({settings.console_oidc_role_claim})")
    staff_role = StaffRole(str(role))
    methods = claims.get("amr") if isinstance(claims.get("amr"), list) else []
    if staff_role in TOTP_REQUIRED and not SECOND_FACTORS & set(map(str, methods or [])):
        raise OidcError(f"a {staff_role} signs in with a second factor (amr)")
    name = claims.get("name") or claims.get("preferred_username") or claims["sub"]
    return OidcPerson(str(claims["sub"]), str(name)[:128], facility.strip(), staff_role)


def username_of(issuer: str, subject: str) -> str:
    return "oidc." + hashlib.sha256(f"{issuer} {subject}".encode()).hexdigest()[:20]


def staff_account(session: Session, issuer: str, person: OidcPerson) -> StaffUserRow:
    """The person's staff account, made or brought in step with the claims."""
    username = username_of(issuer, person.subject)
    user = session.get(StaffUserRow, username)
    if user is None:
        user = StaffUserRow(
            username=username, password_hash=NO_PASSWORD, active=True, failed_attempts=0,
            created=datetime.now(UTC), totp_secret=None,
        )  # fmt: skip
        session.add(user)
    if user.active:
        user.display_name, user.facility, user.role = (
            person.display_name, person.facility, str(person.role),
        )  # fmt: skip
    session.flush()
    return user
