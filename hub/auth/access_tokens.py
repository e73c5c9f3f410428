"""The hub's access tokens: issued to a client, verified on every request.

Access tokens are JWTs (``typ: at+jwt``, RFC 9068) signed with the hub's own key
(:mod:`hub.auth.signing_keys`), verified with the algorithm pinned to that key's ``alg``; the
clock rules are in :mod:`hub.auth.jwt_claims`. A token the hub must not accept raises
:class:`InvalidTokenError` (-> 401), whose message names the failed check only.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import errors, jwt
from joserfc.jwk import JWKRegistry

from hub.auth.acting import PractitionerError, parse_practitioner
from hub.auth.jwt_claims import (
    CLOCK_SKEW_SECONDS,
    aware_now,
    claims_registry,
    numeric_date,
    validate_claims,
    whole_seconds,
)
from hub.auth.purpose import PurposeError, check_reason, iua_extension, parse_purpose
from hub.auth.roles import Role
from hub.auth.signing_keys import SIGNING_ALGORITHMS

ACCESS_TOKEN_TYPE = "at+jwt"


class InvalidTokenError(Exception):
    """An access token that must not be accepted.

    ``signed_claims`` holds the token's claims when the hub's own signature on it verified and
    only a claim check failed (an expired token), so the refusal can be attributed to the client
    in the audit log; it is None for a token the hub did not sign.
    """

    signed_claims: dict[str, Any] | None = None


@dataclass(frozen=True)
class AccessClaims:
    client_id: str
    facility: str
    role: Role
    scope: str
    patient: str | None
    jti: str
    issued_at: datetime
    expires_at: datetime
    purpose_of_use: str | None = None
    purpose_reason: str | None = None  # free text; required with ETREAT (break-glass)
    practitioner: str | None = None  # "Practitioner/<id>": the person acting (hub.auth.acting)


class TokenIssuer:
    """Issues and verifies the hub's access tokens with one signing key.

    Verified tokens are remembered in a small LRU cache keyed by the token text, so a client
    re-using its token skips the signature check; a cached entry is used only while
    ``nbf - skew <= now < exp``, otherwise the token is verified again (and fails).
    """

    def __init__(
        self,
        private_jwk: dict[str, Any],
        *,
        issuer: str,
        audience: str,
        ttl_seconds: int = 300,
        cache_size: int = 1024,
    ) -> None:
        alg = private_jwk.get("alg")
        if alg not in SIGNING_ALGORITHMS:
            raise ValueError("signing key needs 'alg' ES256 or RS256")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        key = JWKRegistry.import_key(private_jwk)
        if not key.is_private or key.key_type != SIGNING_ALGORITHMS[alg][0]:
            raise ValueError(f"signing key must be a private {SIGNING_ALGORITHMS[alg][0]} key")
        key.ensure_kid()
        self._key = key
        self._alg: str = alg
        self._kid = key.kid
        self.issuer = issuer
        self.audience = audience
        self.ttl = timedelta(seconds=ttl_seconds)
        self._cache: OrderedDict[str, tuple[datetime, AccessClaims]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def issue(
        self,
        *,
        client_id: str,
        facility: str,
        role: Role,
        scope: str,
        patient: str | None = None,
        purpose_of_use: str | None = None,
        purpose_reason: str | None = None,
        practitioner: str | None = None,
        now: datetime | None = None,
    ) -> tuple[str, AccessClaims]:
        """Sign a token. A purpose must be in the value set (ETREAT with a reason), else
        :class:`hub.auth.purpose.PurposeError` (a ValueError); which role may claim which purpose
        is the token endpoint's and CLI's business (:func:`hub.auth.purpose.resolve_purpose`),
        as is who must name a practitioner (:func:`hub.auth.acting.check_acting`); a
        practitioner here must be a ``Practitioner/<id>`` reference (PractitionerError)."""
        if not scope.strip():
            raise ValueError("an access token needs a scope")
        purpose = parse_purpose(purpose_of_use) if purpose_of_use is not None else None
        purpose_reason = check_reason(purpose, purpose_reason)
        purpose_code = str(purpose) if purpose is not None else None
        practitioner = parse_practitioner(practitioner)
        issued_at = whole_seconds(aware_now(now))
        claims = AccessClaims(
            client_id=client_id,
            facility=facility,
            role=Role(role),
            scope=scope,
            patient=patient,
            jti=secrets.token_urlsafe(18),
            issued_at=issued_at,
            expires_at=issued_at + self.ttl,
            purpose_of_use=purpose_code,
            purpose_reason=purpose_reason,
            practitioner=practitioner,
        )
        # Purpose of use: a flat claim (what the hub reads back) and the IHE IUA extension.
        optional: dict[str, Any] = {
            "patient": patient,
            "purpose_of_use": purpose_code,
            "purpose_reason": purpose_reason,
            "practitioner": practitioner,
            "extensions": iua_extension(purpose) if purpose is not None else None,
        }
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": client_id,
            "iat": int(issued_at.timestamp()),
            "nbf": int(issued_at.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
            "jti": claims.jti,
            "scope": scope,
            "facility": facility,
            "role": str(claims.role),
        } | {name: value for name, value in optional.items() if value is not None}
        header = {"alg": self._alg, "kid": self._kid, "typ": ACCESS_TOKEN_TYPE}
        token = jwt.encode(header, payload, self._key, algorithms=[self._alg])
        return token, claims

    def verify(self, token: str, *, now: datetime | None = None) -> AccessClaims:
        """The claims of a token this issuer signed; raise :class:`InvalidTokenError`."""
        moment = aware_now(now)
        cached = self._cached(token, moment)
        if cached is not None:
            return cached
        not_before, claims = self._verify(token, moment)
        with self._lock:
            self._cache[token] = (not_before, claims)
            self._cache.move_to_end(token)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return claims

    def _cached(self, token: str, moment: datetime) -> AccessClaims | None:
        with self._lock:
            entry = self._cache.get(token)
            if entry is None:
                return None
            not_before, claims = entry
            if not_before - timedelta(seconds=CLOCK_SKEW_SECONDS) <= moment < claims.expires_at:
                self._cache.move_to_end(token)
                return claims
            del self._cache[token]
            return None

    def _verify(self, token: str, moment: datetime) -> tuple[datetime, AccessClaims]:
        try:
            decoded = jwt.decode(token, self._key, algorithms=[self._alg])
        except errors.UnsupportedAlgorithmError as error:
            raise InvalidTokenError("token algorithm not allowed") from error
        except errors.BadSignatureError as error:
            raise InvalidTokenError("invalid token signature") from error
        except (errors.JoseError, ValueError, TypeError) as error:
            raise InvalidTokenError("malformed token") from error
        if decoded.header.get("typ") != ACCESS_TOKEN_TYPE:
            raise InvalidTokenError("not an access token")
        if decoded.header.get("kid") not in (None, self._kid):
            raise InvalidTokenError("token signed by an unknown key")
        payload = decoded.claims
        required = ("sub", "iat", "nbf", "exp", "jti", "scope", "facility", "role")
        registry = claims_registry(moment, required, iss=self.issuer, aud=self.audience)
        try:
            validate_claims(registry, payload, InvalidTokenError, "token")
        except InvalidTokenError as error:
            error.signed_claims = dict(payload)
            raise
        try:
            claims = AccessClaims(
                client_id=payload["sub"],
                facility=_str(payload["facility"]),
                role=Role(payload["role"]),
                scope=_str(payload["scope"]),
                patient=_optional_text(payload, "patient"),
                jti=payload["jti"],
                issued_at=numeric_date(payload["iat"]),
                expires_at=numeric_date(payload["exp"]),
                purpose_of_use=_optional_text(payload, "purpose_of_use"),
                purpose_reason=_optional_text(payload, "purpose_reason"),
                practitioner=parse_practitioner(_optional_text(payload, "practitioner")),
            )
            if claims.purpose_of_use is not None:
                check_reason(parse_purpose(claims.purpose_of_use), claims.purpose_reason)
        except (ValueError, TypeError, PurposeError, PractitionerError) as error:
            raise InvalidTokenError("invalid token claims") from error
        return numeric_date(payload["nbf"]), claims


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("string expected")
    return value


def _optional_text(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"'{name}' must be a string")
    return value
