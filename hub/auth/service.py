"""Client registration, the hub's signing key, and the client-credentials token exchange."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.auth.access_tokens import TokenIssuer
from hub.auth.acting import PractitionerError, check_acting, practitioner_id
from hub.auth.actor import SYSTEM_ACTOR
from hub.auth.client_assertions import InvalidClientError, load_jwks, verify_client_assertion
from hub.auth.models import ClientRow, UsedAssertion
from hub.auth.purpose import PurposeError, PurposeOfUse, resolve_purpose
from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.auth.scopes import ScopeError, narrow, parse_scopes
from hub.auth.signing_keys import generate_signing_key
from hub.errors import FhirError
from hub.fhir.origin import origin_facility
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import Settings, get_settings

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class OAuthError(Exception):
    """An RFC 6749 error response: ``error`` code, description, HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def load_signing_key(settings: Settings) -> dict[str, Any]:
    if settings.signing_key:
        key: dict[str, Any] = json.loads(settings.signing_key)
        return key
    path = settings.signing_key_file
    if path.exists():
        key = json.loads(path.read_text())
        return key
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    key = generate_signing_key("ES256")
    path.write_text(json.dumps(key))
    path.chmod(0o600)
    return key


@lru_cache
def get_issuer() -> TokenIssuer:
    settings = get_settings()
    return TokenIssuer(
        load_signing_key(settings),
        issuer=settings.public_base_url,
        audience=settings.fhir_base_url,
        ttl_seconds=settings.token_ttl_seconds,
    )


def register_client(
    session: Session,
    *,
    facility: str,
    role: Role,
    jwks_text: str,
    patient_id: str | None = None,
    scope: str | None = None,
    description: str | None = None,
) -> ClientRow:
    jwks = load_jwks(jwks_text)
    if role is Role.patient and not patient_id:
        raise ValueError("a patient client needs --patient")
    allowed = scope or DEFAULT_SCOPES[role]
    parse_scopes(allowed)
    row = ClientRow(
        client_id=str(uuid.uuid4()),
        facility=facility,
        role=str(role),
        patient_id=patient_id,
        scope=allowed,
        jwks=json.dumps(jwks),
        active=True,
        created=datetime.now(UTC),
        description=description,
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    expires_in: int
    scope: str
    patient: str | None
    purpose_of_use: str | None = None
    practitioner: str | None = None


def require_registered_practitioner(session: Session, facility: str, reference: str) -> None:
    """Refuse (PractitionerError) a practitioner the hub does not know as one of ``facility``'s:
    the Practitioner must exist, not deleted, and have been recorded by that facility (its
    ``meta.source``), so a facility cannot put another facility's clinician in its tokens."""
    store = FhirStore(session, SYSTEM_ACTOR, get_cipher())  # the read is audited, as hub-system
    try:
        stored = store.read("Practitioner", practitioner_id(reference))
    except FhirError:
        raise PractitionerError("practitioner is not registered at the hub") from None
    if origin_facility(stored.as_dict()) != facility:
        raise PractitionerError("practitioner is not registered by the token's facility")


def acting_practitioner(
    session: Session, role: Role, facility: str, purpose: PurposeOfUse | None, value: str | None
) -> str | None:
    """The practitioner a token may carry (:func:`hub.auth.acting.check_acting`), registered by
    ``facility``; raise PractitionerError."""
    practitioner = check_acting(role, purpose, value)
    if practitioner is not None:
        require_registered_practitioner(session, facility, practitioner)
    return practitioner


def exchange_client_assertion(
    session: Session, form: dict[str, str], *, token_url: str, issuer: TokenIssuer
) -> TokenGrant:
    if form.get("grant_type") != "client_credentials":
        raise OAuthError("unsupported_grant_type", "grant_type must be client_credentials")
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise OAuthError("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}")
    assertion = form.get("client_assertion", "")
    client_id = _unverified_issuer(assertion)
    client = session.get(ClientRow, client_id) if client_id else None
    if client is None or not client.active:
        raise OAuthError("invalid_client", "unknown or disabled client", 401)
    try:
        info = verify_client_assertion(
            assertion,
            client_jwks=json.loads(client.jwks),
            client_id=client.client_id,
            token_url=token_url,
        )
    except InvalidClientError as exc:
        raise OAuthError("invalid_client", str(exc), 401) from None
    _remember_assertion(session, client.client_id, info.jti, info.expires_at)
    try:
        granted = narrow(form.get("scope", ""), client.scope)
    except ScopeError as exc:
        raise OAuthError("invalid_scope", str(exc)) from None
    if not granted:
        raise OAuthError("invalid_scope", "none of the requested scopes is allowed")
    try:  # IHE IUA: purpose_of_use (and reason, for ETREAT) are token request parameters
        purpose, reason = resolve_purpose(
            Role(client.role), form.get("purpose_of_use"), form.get("reason")
        )
    except PurposeError as exc:
        raise OAuthError("invalid_request", str(exc)) from None
    try:  # the clinician the facility system acts for (SMART/IUA subject); ETREAT needs one
        practitioner = acting_practitioner(
            session, Role(client.role), client.facility, purpose, form.get("practitioner")
        )
    except PractitionerError as exc:
        raise OAuthError("invalid_request", str(exc)) from None
    token, claims = issuer.issue(
        client_id=client.client_id,
        facility=client.facility,
        role=Role(client.role),
        scope=granted,
        patient=client.patient_id,
        purpose_of_use=purpose,
        purpose_reason=reason,
        practitioner=practitioner,
    )
    expires_in = int((claims.expires_at - claims.issued_at).total_seconds())
    return TokenGrant(
        token, expires_in, granted, client.patient_id, claims.purpose_of_use, practitioner
    )


def _unverified_issuer(assertion: str) -> str | None:
    """The assertion's ``iss`` before verification, only to find which keys to verify with."""
    import base64

    try:
        payload = assertion.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        value = data.get("iss")
        return value if isinstance(value, str) and len(value) <= 64 else None
    except (IndexError, ValueError, AttributeError):
        return None


def _remember_assertion(session: Session, client_id: str, jti: str, expires_at: datetime) -> None:
    now = datetime.now(UTC)
    session.execute(delete(UsedAssertion).where(UsedAssertion.expires_at < now))
    existing = session.execute(
        select(UsedAssertion).where(
            UsedAssertion.client_id == client_id, UsedAssertion.jti == jti[:255]
        )
    ).scalar_one_or_none()
    if existing is not None:
        raise OAuthError("invalid_client", "client assertion was already used (jti replay)", 401)
    try:
        with session.begin_nested():
            session.add(UsedAssertion(client_id=client_id, jti=jti[:255], expires_at=expires_at))
    except IntegrityError:
        raise OAuthError("invalid_client", "client assertion was already used", 401) from None
