"""Signing keys, the hub's access tokens, and client assertions (SMART Backend Services).

All JOSE work is done by ``joserfc``; this module decides which algorithms, keys and claims are
acceptable.

Errors::

    InvalidTokenError     an access token the hub must not accept (-> 401)
    InvalidClientError    a client assertion the token endpoint must not accept (-> invalid_client)
    InvalidJwksError      a client's JWKS document cannot be registered (ValueError)

Messages name the failed check only, never a claim value.

Access tokens are JWTs (``typ: at+jwt``, RFC 9068) signed with the hub's own key, verified with
the algorithm pinned to that key's ``alg``. ``exp`` is strict; ``nbf`` and ``iat`` may lie up to
:data:`CLOCK_SKEW_SECONDS` in the future, for replicas (or clients) whose clocks run a little
behind the signer's.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import errors, jws, jwt
from joserfc.jwk import ECKey, JWKRegistry, Key, RSAKey

from hub.auth.acting import PractitionerError, parse_practitioner
from hub.auth.purpose import PurposeError, check_reason, iua_extension, parse_purpose
from hub.auth.roles import Role

CLOCK_SKEW_SECONDS = 30
ACCESS_TOKEN_TYPE = "at+jwt"
# Algorithms the hub signs its own tokens with: alg -> (kty, curve or RSA modulus bits).
SIGNING_ALGORITHMS: dict[str, tuple[str, str | int]] = {
    "ES256": ("EC", "P-256"),
    "RS256": ("RSA", 2048),
}
# Algorithms accepted on client assertions (SMART requires RS384 and ES384 support).
CLIENT_ASSERTION_ALGORITHMS = {"ES256": "EC", "ES384": "EC", "RS256": "RSA", "RS384": "RSA"}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_CLIENT_CURVES = frozenset({"P-256", "P-384"})
_MIN_RSA_BITS = 2048


class InvalidTokenError(Exception):
    """An access token that must not be accepted.

    ``signed_claims`` holds the token's claims when the hub's own signature on it verified and
    only a claim check failed (an expired token), so the refusal can be attributed to the client
    in the audit log; it is None for a token the hub did not sign.
    """

    signed_claims: dict[str, Any] | None = None


class InvalidClientError(Exception):
    """A client assertion that must not be accepted."""


class InvalidJwksError(ValueError):
    """A JWKS document that cannot be used as a client's public keys."""


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


@dataclass(frozen=True)
class AssertionInfo:
    jti: str
    expires_at: datetime


class _ClaimsRegistry(jwt.JWTClaimsRegistry):
    """Strict ``exp``; ``nbf`` and ``iat`` get the leeway (clock skew) only."""

    def validate_exp(self, value: object) -> None:
        super().validate_exp(value)
        if isinstance(value, int | float) and value <= self.now:
            raise errors.ExpiredTokenError("exp")


# --- keys ---


def generate_signing_key(alg: str = "ES256") -> dict[str, Any]:
    """A new private JWK for ``alg`` (ES256 or RS256) with ``kid`` = RFC 7638 thumbprint."""
    if alg not in SIGNING_ALGORITHMS:
        raise ValueError(f"unsupported signing algorithm: {alg}")
    kty, size = SIGNING_ALGORITHMS[alg]
    key = JWKRegistry.generate_key(kty, size, parameters={"alg": alg, "use": "sig"})
    key.ensure_kid()
    return dict(key.as_dict(private=True))


def public_jwks(private_jwk: dict[str, Any]) -> dict[str, Any]:
    """The JWKS document publishing the public half of ``private_jwk``."""
    key = JWKRegistry.import_key(private_jwk)
    key.ensure_kid()
    return {"keys": [dict(key.as_dict(private=False))]}


def load_jwks(text: str) -> dict[str, Any]:
    """Parse and validate a client's JWKS document; raise :class:`InvalidJwksError`."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise InvalidJwksError("JWKS is not valid JSON") from error
    _public_keys(document)
    return dict(document)


def _public_keys(document: object) -> list[Key]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise InvalidJwksError("JWKS must be a JSON object with a 'keys' array")
    if not document["keys"]:
        raise InvalidJwksError("JWKS has no keys")
    keys: list[Key] = []
    kids: set[str] = set()
    for index, member in enumerate(document["keys"]):
        key = _public_key(member, index)
        if key.kid is not None:
            if key.kid in kids:
                raise InvalidJwksError(f"key {index}: duplicate kid")
            kids.add(key.kid)
        keys.append(key)
    return keys


def _public_key(member: object, index: int) -> Key:
    if not isinstance(member, dict):
        raise InvalidJwksError(f"key {index}: not a JSON object")
    private = sorted(_PRIVATE_MEMBERS & member.keys())
    if private:
        raise InvalidJwksError(
            f"key {index}: contains private key members ({', '.join(private)}); "
            "publish the public key only"
        )
    kty = member.get("kty")
    if kty not in ("EC", "RSA"):
        raise InvalidJwksError(f"key {index}: unsupported kty (EC and RSA are supported)")
    if member.get("use", "sig") != "sig":
        raise InvalidJwksError(f"key {index}: 'use' must be 'sig'")
    alg = member.get("alg")
    if alg is not None and CLIENT_ASSERTION_ALGORITHMS.get(alg) != kty:
        raise InvalidJwksError(f"key {index}: unsupported alg for a {kty} key")
    try:
        key = JWKRegistry.import_key(member)
    except (errors.JoseError, ValueError, TypeError) as error:
        raise InvalidJwksError(f"key {index}: not a valid {kty} key") from error
    if isinstance(key, ECKey) and key.curve_name not in _CLIENT_CURVES:
        raise InvalidJwksError(f"key {index}: unsupported curve (P-256 and P-384 are supported)")
    if isinstance(key, RSAKey) and key.public_key.key_size < _MIN_RSA_BITS:
        raise InvalidJwksError(f"key {index}: RSA keys need at least {_MIN_RSA_BITS} bits")
    return key


# --- access tokens ---


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
        issued_at = _whole_seconds(_now(now))
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
        moment = _now(now)
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
        registry = _registry(moment, required, iss=self.issuer, aud=self.audience)
        try:
            _validate_claims(registry, payload, InvalidTokenError, "token")
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
                issued_at=_datetime(payload["iat"]),
                expires_at=_datetime(payload["exp"]),
                purpose_of_use=_optional_text(payload, "purpose_of_use"),
                purpose_reason=_optional_text(payload, "purpose_reason"),
                practitioner=parse_practitioner(_optional_text(payload, "practitioner")),
            )
            if claims.purpose_of_use is not None:
                check_reason(parse_purpose(claims.purpose_of_use), claims.purpose_reason)
        except (ValueError, TypeError, PurposeError, PractitionerError) as error:
            raise InvalidTokenError("invalid token claims") from error
        return _datetime(payload["nbf"]), claims


# --- client assertions (RFC 7523 / SMART Backend Services) ---


def verify_client_assertion(
    assertion: str,
    *,
    client_jwks: dict[str, Any],
    client_id: str,
    token_url: str,
    now: datetime | None = None,
    max_lifetime_seconds: int = 300,
) -> AssertionInfo:
    """Check a ``private_key_jwt`` client assertion; raise :class:`InvalidClientError`.

    The caller must still reject a ``jti`` it has already seen (until ``expires_at``).
    """
    moment = _now(now)
    try:
        header = jws.extract_compact(assertion.encode()).headers()
    except (errors.JoseError, ValueError, TypeError) as error:
        raise InvalidClientError("malformed client assertion") from error
    alg = header.get("alg")
    if alg not in CLIENT_ASSERTION_ALGORITHMS:
        raise InvalidClientError("client assertion algorithm not allowed")
    try:
        keys = _public_keys(client_jwks)
    except InvalidJwksError as error:
        raise InvalidClientError("client JWKS unusable") from error
    decoded = _decode_with_any(assertion, alg, header.get("kid"), keys)
    registry = _registry(moment, ("exp", "jti"), iss=client_id, sub=client_id, aud=token_url)
    _validate_claims(registry, decoded.claims, InvalidClientError, "client assertion")
    expires_at = _datetime(decoded.claims["exp"])
    limit = max_lifetime_seconds + CLOCK_SKEW_SECONDS
    if expires_at > moment + timedelta(seconds=limit):
        raise InvalidClientError("client assertion lifetime too long")
    return AssertionInfo(jti=decoded.claims["jti"], expires_at=expires_at)


def _decode_with_any(assertion: str, alg: str, kid: object, keys: list[Key]) -> jwt.Token:
    candidates = [
        key
        for key in keys
        if key.key_type == CLIENT_ASSERTION_ALGORITHMS[alg]
        and key.get("alg") in (None, alg)
        and (kid is None or key.kid == kid)
    ]
    if not candidates:
        raise InvalidClientError("no registered key matches the client assertion")
    for key in candidates:
        try:
            return jwt.decode(assertion, key, algorithms=[alg])
        except (errors.JoseError, ValueError, TypeError):
            continue
    raise InvalidClientError("client assertion signature not verified")


def make_client_assertion(
    private_jwk: dict[str, Any],
    *,
    client_id: str,
    token_url: str,
    now: datetime | None = None,
    lifetime_seconds: int = 240,
    jti: str | None = None,
) -> str:
    """A signed client assertion, as a SMART Backend Services client would send it."""
    key = JWKRegistry.import_key(private_jwk)
    if not key.is_private:
        raise ValueError("a client assertion needs a private key")
    key.ensure_kid()
    alg = private_jwk.get("alg") or _default_alg(key)
    issued_at = _whole_seconds(_now(now))
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "iat": int(issued_at.timestamp()),
        "exp": int(issued_at.timestamp()) + lifetime_seconds,
        "jti": jti or secrets.token_urlsafe(18),
    }
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


def _default_alg(key: Key) -> str:
    if isinstance(key, ECKey):
        return {"P-256": "ES256", "P-384": "ES384"}.get(key.curve_name, "ES256")
    return "RS384"


# --- helpers ---


def _registry(moment: datetime, required: tuple[str, ...], **values: str) -> _ClaimsRegistry:
    """Claims that must be present, and claims that must have the given value."""
    options: dict[str, jwt.ClaimsOption] = {name: {"essential": True} for name in required}
    options |= {name: {"essential": True, "value": value} for name, value in values.items()}
    return _ClaimsRegistry(now=int(moment.timestamp()), leeway=CLOCK_SKEW_SECONDS, **options)


def _validate_claims(
    registry: jwt.JWTClaimsRegistry,
    claims: dict[str, Any],
    error_cls: type[Exception],
    what: str,
) -> None:
    try:
        registry.validate(claims)
    except errors.ExpiredTokenError as error:
        raise error_cls(f"{what} expired") from error
    except errors.MissingClaimError as error:
        raise error_cls(f"{what} lacks required claims") from error
    except errors.InvalidClaimError as error:
        if error.claim in ("nbf", "iat"):
            raise error_cls(f"{what} not yet valid") from error
        raise error_cls(f"{what} has an invalid '{error.claim}' claim") from error


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def _whole_seconds(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _datetime(value: object) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("NumericDate expected")
    return datetime.fromtimestamp(int(value), UTC)


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("string expected")
    return value


def _optional_text(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"'{name}' must be a string")
    return value
