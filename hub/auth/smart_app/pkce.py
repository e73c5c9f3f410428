"""PKCE (RFC 7636), S256 only: SMART App Launch v2 forbids ``plain`` (pure: no I/O).

The transform and the grammar are Authlib's (``authlib.oauth2.rfc7636``); this module only pins
the method to S256 and compares in constant time.
"""

from __future__ import annotations

import hmac

from authlib.oauth2.rfc7636.challenge import (
    CODE_CHALLENGE_PATTERN,
    CODE_VERIFIER_PATTERN,
    create_s256_code_challenge,
)

S256 = "S256"
METHODS_SUPPORTED = (S256,)


class PkceError(ValueError):
    """A code challenge or verifier that cannot be accepted; names the rule only."""


def check_challenge(challenge: str | None, method: str | None) -> str:
    """The challenge of an authorization request; S256 is required (no ``plain``, no default)."""
    if not challenge:
        raise PkceError("code_challenge is required (PKCE)")
    if method != S256:
        raise PkceError("code_challenge_method must be S256")
    if not CODE_CHALLENGE_PATTERN.fullmatch(challenge):
        raise PkceError("code_challenge is malformed")
    return challenge


def verifier_matches(verifier: str | None, challenge: str) -> bool:
    """Whether ``verifier`` is well formed and its S256 transform is ``challenge``."""
    if not verifier or not CODE_VERIFIER_PATTERN.fullmatch(verifier):
        return False
    computed: str = create_s256_code_challenge(verifier)
    return hmac.compare_digest(computed.encode(), challenge.encode())
