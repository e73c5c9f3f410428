"""Who may create or change a patient's Consent (PIPL Art. 29: the patient's separate consent).

Pure: the store's write decision (``hub.fhir.write_access``) asks here for every Consent write,
with the Consent as it is now (``current``, None for a create) and as it would be (``new``, None
for a delete). The rules:

- nobody deletes a Consent: it is withdrawn by a new version (``status`` inactive or rejected),
  so its history stays (``hub.fhir.write_access`` refuses every deletion with 405);
- the patient (a patient token bound to ``Consent.patient``) writes their own consents; the
  guardian check of ``consent.rules`` applies as for everyone;
- a facility records a consent on the patient's behalf (the signed form is checked by
  ``consent.service.check_consent_write``) but never one that grants **itself** access: no
  permit provision that reaches the recording facility (one naming it, or one naming no actor),
  and no change to a consent that restricts it (a deny reaching it);
- operators may correct any consent (audited like every write).
"""

from __future__ import annotations

from typing import Any

from consent.pdp import ConsentRule, ProvisionType
from consent.rules import flatten_provisions
from hub.errors import InvalidResource


class ConsentWriteRefused(Exception):
    """The writer may not make this Consent change (the message says why, names no values)."""


def _rules(consent: dict[str, Any] | None) -> list[ConsentRule]:
    if not consent:
        return []
    try:
        return flatten_provisions(consent)
    except InvalidResource:  # refused by the Consent checks of consent.service, not here
        return []


def reaches(rule: ConsentRule, facility: str) -> bool:
    """Whether ``rule`` applies to the facility ``facility`` (it names it, or names no one)."""
    return rule.actors is None or f"Organization/{facility}" in rule.actors


def _grants_self(consent: dict[str, Any] | None, facility: str) -> bool:
    if not consent or consent.get("status") != "active":
        return False
    return any(r.type is ProvisionType.PERMIT and reaches(r, facility) for r in _rules(consent))


def _restricts_self(consent: dict[str, Any] | None, facility: str) -> bool:
    if not consent or consent.get("status") != "active":
        return False
    return any(r.type is ProvisionType.DENY and reaches(r, facility) for r in _rules(consent))


def check_facility_consent_write(
    facility: str, current: dict[str, Any] | None, new: dict[str, Any]
) -> None:
    """Raise :class:`ConsentWriteRefused` unless facility ``facility`` may make this change."""
    if _grants_self(new, facility):
        raise ConsentWriteRefused(
            "a facility cannot record a consent that grants itself access: a permit that "
            "reaches the recording facility must come from the patient (or guardian) through "
            "the patient's own app, or be recorded by an operator"
        )
    if _restricts_self(current, facility):
        raise ConsentWriteRefused(
            "a facility cannot change or withdraw a consent that restricts its own access; "
            "the patient (or guardian) does that through the patient's own app, or an operator"
        )
