"""Random secrets handed to apps and browsers, kept at the hub only as their SHA-256 digest."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def matches(value: str, expected_digest: str) -> bool:
    return hmac.compare_digest(digest(value), expected_digest)


def new_one_time_code() -> str:
    """Six digits, for a person to type from a text message."""
    return f"{secrets.randbelow(1_000_000):06d}"
