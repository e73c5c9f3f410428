"""Purpose of use: the v3 ActReason codes a token may claim, per role, and their defaults.

Purpose of use is a claim of the access token (IHE IUA), not a request header: the consent
decision (``consent.pdp``) rests on it, so only the token endpoint, after authenticating the
client, may set it. ``ETREAT`` (emergency treatment, PIPL Art. 13(4)) is break-glass: it needs a
free-text reason, which the token carries so the access can be accounted for.

Defaults when a client asks for none: ``TREAT`` for practitioners and facility systems,
``PATRQT`` for patients, none for operators and auditors (their access is governed by role, not
by a care purpose, and they may claim none). ``HPAYMT`` can be claimed by a facility system doing
insurance linkage, and is the only purpose of the fund's auditors (``insurance-auditor``).
"""

from __future__ import annotations

from enum import StrEnum

from hub.auth.roles import Role

ACT_REASON_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
MAX_REASON_LENGTH = 200


class PurposeOfUse(StrEnum):
    TREAT = "TREAT"  # treatment (includes referral and remote consultation)
    ETREAT = "ETREAT"  # emergency treatment: break-glass, needs a reason
    HPAYMT = "HPAYMT"  # healthcare payment (insurance linkage)
    HRESCH = "HRESCH"  # healthcare research
    PATRQT = "PATRQT"  # the patient's own request


# A purpose covers its specialisations: consent given for TREAT also covers ETREAT.
PURPOSE_PARENT: dict[PurposeOfUse, PurposeOfUse] = {PurposeOfUse.ETREAT: PurposeOfUse.TREAT}

_CARE = frozenset(
    {PurposeOfUse.TREAT, PurposeOfUse.ETREAT, PurposeOfUse.HPAYMT, PurposeOfUse.HRESCH}
)
ALLOWED_PURPOSES: dict[Role, frozenset[PurposeOfUse]] = {
    Role.facility_system: _CARE,
    Role.practitioner: _CARE,
    Role.patient: frozenset({PurposeOfUse.PATRQT}),
    Role.auditor: frozenset(),
    Role.operator: frozenset(),
    Role.insurance_auditor: frozenset({PurposeOfUse.HPAYMT}),
    Role.data_steward: frozenset(),
}
DEFAULT_PURPOSE: dict[Role, PurposeOfUse | None] = {
    Role.facility_system: PurposeOfUse.TREAT,
    Role.practitioner: PurposeOfUse.TREAT,
    Role.patient: PurposeOfUse.PATRQT,
    Role.auditor: None,
    Role.operator: None,
    Role.insurance_auditor: PurposeOfUse.HPAYMT,
    Role.data_steward: None,
}


class PurposeError(ValueError):
    """A purpose of use (or its reason) that cannot be granted; the message names the rule."""


def parse_purpose(value: str) -> PurposeOfUse:
    """A code of the value set, or :class:`PurposeError`."""
    try:
        return PurposeOfUse(value.strip())
    except ValueError:
        known = ", ".join(PurposeOfUse)
        raise PurposeError(f"purpose_of_use must be one of {known}") from None


def check_reason(purpose: PurposeOfUse | None, reason: str | None) -> str | None:
    """The cleaned reason; ETREAT requires one, and it must be short plain text."""
    text = (reason or "").strip() or None
    if text is not None:
        if len(text) > MAX_REASON_LENGTH:
            raise PurposeError(f"reason must be at most {MAX_REASON_LENGTH} characters")
        if any(ord(char) < 32 for char in text):
            raise PurposeError("reason must not contain control characters")
        if purpose is None:
            raise PurposeError("reason is only accepted together with a purpose_of_use")
    if purpose is PurposeOfUse.ETREAT and text is None:
        raise PurposeError("purpose_of_use ETREAT (emergency access) requires a reason")
    return text


def resolve_purpose(
    role: Role, requested: str | None, reason: str | None
) -> tuple[PurposeOfUse | None, str | None]:
    """The purpose (and reason) a token for ``role`` gets: the requested one if the role may
    claim it, else the role's default; raise :class:`PurposeError`."""
    if requested is None or not requested.strip():
        purpose = DEFAULT_PURPOSE[role]
    else:
        purpose = parse_purpose(requested)
        if purpose not in ALLOWED_PURPOSES[role]:
            allowed = ", ".join(sorted(ALLOWED_PURPOSES[role])) or "none"
            raise PurposeError(f"role {role} may not claim purpose {purpose} (allowed: {allowed})")
    return purpose, check_reason(purpose, reason)


def iua_extension(purpose: PurposeOfUse) -> dict[str, object]:
    """The IHE IUA JWT extension carrying the purpose as a Coding."""
    return {"ihe_iua": {"purpose_of_use": {"system": ACT_REASON_SYSTEM, "code": str(purpose)}}}
