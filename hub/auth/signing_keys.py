"""The hub's own signing key: generated once, its public half published as a JWKS document.

All JOSE work is done by ``joserfc``; this module decides which algorithms the hub signs with.
"""

from __future__ import annotations

from typing import Any

from joserfc.jwk import JWKRegistry

# Algorithms the hub signs its own tokens with: alg -> (kty, curve or RSA modulus bits).
SIGNING_ALGORITHMS: dict[str, tuple[str, str | int]] = {
    "ES256": ("EC", "P-256"),
    "RS256": ("RSA", 2048),
}


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
