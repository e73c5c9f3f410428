"""Claim checks and clock rules shared by the hub's access tokens and client assertions.

``exp`` is strict; ``nbf`` and ``iat`` may lie up to :data:`CLOCK_SKEW_SECONDS` in the future,
for replicas (or clients) whose clocks run a little behind the signer's. Messages name the failed
check only, never a claim value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from joserfc import errors, jwt

CLOCK_SKEW_SECONDS = 30


class _ClaimsRegistry(jwt.JWTClaimsRegistry):
    """Strict ``exp``; ``nbf`` and ``iat`` get the leeway (clock skew) only."""

    def validate_exp(self, value: object) -> None:
        super().validate_exp(value)
        if isinstance(value, int | float) and value <= self.now:
            raise errors.ExpiredTokenError("exp")


def claims_registry(
    moment: datetime, required: tuple[str, ...], **values: str
) -> jwt.JWTClaimsRegistry:
    """Claims that must be present, and claims that must have the given value."""
    options: dict[str, jwt.ClaimsOption] = {name: {"essential": True} for name in required}
    options |= {name: {"essential": True, "value": value} for name, value in values.items()}
    return _ClaimsRegistry(now=int(moment.timestamp()), leeway=CLOCK_SKEW_SECONDS, **options)


def validate_claims(
    registry: jwt.JWTClaimsRegistry,
    claims: dict[str, Any],
    error_cls: type[Exception],
    what: str,
) -> None:
    """Run ``registry`` over ``claims``; a failure becomes ``error_cls`` naming the check."""
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


def aware_now(now: datetime | None) -> datetime:
    """``now`` when given (it must be timezone-aware), else the current UTC time."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def whole_seconds(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def numeric_date(value: object) -> datetime:
    """A JWT NumericDate claim as an aware datetime; TypeError for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("NumericDate expected")
    return datetime.fromtimestamp(int(value), UTC)
