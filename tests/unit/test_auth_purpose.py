"""Purpose of use (IHE IUA) as the token endpoint grants it: value set, roles, reasons."""

from __future__ import annotations

import pytest

from hub.auth.purpose import (
    ACT_REASON_SYSTEM,
    MAX_REASON_LENGTH,
    PurposeError,
    PurposeOfUse,
    check_reason,
    iua_extension,
    parse_purpose,
    resolve_purpose,
)
from hub.auth.roles import Role


def test_defaults_per_role() -> None:
    assert resolve_purpose(Role.facility_system, None, None) == (PurposeOfUse.TREAT, None)
    assert resolve_purpose(Role.practitioner, "  ", None) == (PurposeOfUse.TREAT, None)
    assert resolve_purpose(Role.patient, None, None) == (PurposeOfUse.PATRQT, None)
    assert resolve_purpose(Role.operator, None, None) == (None, None)


@pytest.mark.parametrize(
    ("role", "purpose"),
    [
        (Role.patient, "TREAT"),
        (Role.operator, "TREAT"),
        (Role.auditor, "HPAYMT"),
        (Role.facility_system, "PATRQT"),
    ],
)
def test_roles_claim_only_their_purposes(role: Role, purpose: str) -> None:
    with pytest.raises(PurposeError, match="may not claim"):
        resolve_purpose(role, purpose, None)


def test_values_outside_the_value_set_are_refused() -> None:
    with pytest.raises(PurposeError, match="must be one of"):
        parse_purpose("MARKETING")
    assert parse_purpose(" HRESCH ") is PurposeOfUse.HRESCH


def test_break_glass_needs_a_short_plain_reason() -> None:
    with pytest.raises(PurposeError, match="requires a reason"):
        resolve_purpose(Role.practitioner, "ETREAT", None)
    with pytest.raises(PurposeError, match="requires a reason"):
        resolve_purpose(Role.practitioner, "ETREAT", "   ")
    assert resolve_purpose(Role.practitioner, "ETREAT", " 急诊昏迷 ") == (
        PurposeOfUse.ETREAT,
        "急诊昏迷",
    )
    with pytest.raises(PurposeError, match="at most"):
        check_reason(PurposeOfUse.ETREAT, "x" * (MAX_REASON_LENGTH + 1))
    with pytest.raises(PurposeError, match="control characters"):
        check_reason(PurposeOfUse.ETREAT, "line\nbreak")
    with pytest.raises(PurposeError, match="only accepted together"):
        check_reason(None, "why")


def test_iua_claim_carries_the_purpose_as_a_coding() -> None:
    claim = iua_extension(PurposeOfUse.HPAYMT)
    assert claim == {"ihe_iua": {"purpose_of_use": {"system": ACT_REASON_SYSTEM, "code": "HPAYMT"}}}
