"""Client authentication by signed assertion (RFC 7523, SMART Backend Services).

A backend client registers a JWKS document of public keys (:func:`load_jwks`, checked at
registration) and authenticates at the token endpoint with a ``private_key_jwt`` assertion signed
by one of them (:func:`verify_client_assertion`). All JOSE work is done by ``joserfc``; this
module decides which algorithms, keys and claims are acceptable.

Errors::

    InvalidClientError    a client assertion the token endpoint must not accept (-> invalid_client)
    InvalidJwksError      a client's JWKS document cannot be registered (ValueError)

Messages name the failed check only, never a claim value.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import errors, jws, jwt
from joserfc.jwk import ECKey, JWKRegistry, Key, RSAKey

from hub.auth.jwt_claims import (
    CLOCK_SKEW_SECONDS,
    aware_now,
    claims_registry,
    numeric_date,
    validate_claims,
    whole_seconds,
)

# Algorithms accepted on client assertions (SMART requires RS384 and ES384 support).
CLIENT_ASSERTION_ALGORITHMS = {"ES256": "EC", "ES384": "EC", "RS256": "RSA", "RS384": "RSA"}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_CLIENT_CURVES = frozenset({"P-256", "P-384"})
_MIN_RSA_BITS = 2048


class InvalidClientError(Exception):
    """A client assertion that must not be accepted."""


class InvalidJwksError(ValueError):
    """A JWKS document that cannot be used as a client's public keys."""


@dataclass(frozen=True)
class AssertionInfo:
    jti: str
    expires_at: datetime


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
    moment = aware_now(now)
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
    registry = claims_registry(moment, ("exp", "jti"), iss=client_id, sub=client_id, aud=token_url)
    validate_claims(registry, decoded.claims, InvalidClientError, "client assertion")
    expires_at = numeric_date(decoded.claims["exp"])
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
    issued_at = whole_seconds(aware_now(now))
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


# --- the client's registered keys ---


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
