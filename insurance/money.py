"""Yuan in FHIR Money <-> integer fen. Pure."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

CURRENCY = "CNY"


def to_fen(value: Any) -> int:
    """A yuan amount (a JSON number or string) as fen; refuses more than two decimals."""
    try:
        amount = Decimal(str(value)) * 100
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if amount != amount.to_integral_value():
        raise ValueError(f"an amount has at most two decimals: {value!r}")
    return int(amount)


def yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


def money(fen: int) -> dict[str, Any]:
    """FHIR Money (``value`` a JSON number with two decimals, not a float computation)."""
    return {"value": float(yuan(fen)), "currency": CURRENCY}
