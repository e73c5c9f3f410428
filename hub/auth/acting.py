"""The person acting behind a token: a ``Practitioner/<id>`` reference (pure: no I/O).

A facility system (HIS) or a practitioner app calls on behalf of a clinician. For ordinary
purposes the hub accounts for the client and its facility; an emergency access (``ETREAT``,
break-glass) overrides a patient's refusal, so it must be attributable to a person: the token
request names the practitioner (the SMART/IUA "subject", as a token request parameter
``practitioner``, ``hub token --practitioner``), the token carries it as the ``practitioner``
claim, and the audit record of every access names that Practitioner as an agent.

Only facility roles act for a clinician; a patient app, an auditor or an operator cannot name
one. That the Practitioner is registered at the hub by the token's facility is checked by the
issuers (:func:`hub.auth.service.require_registered_practitioner`), which read the store.
"""

from __future__ import annotations

import re

from hub.auth.purpose import PurposeOfUse
from hub.auth.roles import FACILITY_ROLES, Role

PRACTITIONER_TYPE = "Practitioner"
_REFERENCE = re.compile(rf"{PRACTITIONER_TYPE}/([A-Za-z0-9\-.]{{1,64}})")  # a FHIR id


class PractitionerError(ValueError):
    """A practitioner that cannot be put in (or is missing from) a token; names the rule only."""


def parse_practitioner(value: str | None) -> str | None:
    """The ``Practitioner/<id>`` reference, None for none; PractitionerError if malformed."""
    text = (value or "").strip()
    if not text:
        return None
    if not _REFERENCE.fullmatch(text):
        raise PractitionerError("practitioner must be a reference Practitioner/<id>")
    return text


def practitioner_id(reference: str) -> str:
    """The id part of a reference :func:`parse_practitioner` accepted."""
    return reference.removeprefix(f"{PRACTITIONER_TYPE}/")


def check_acting(role: Role, purpose: PurposeOfUse | None, value: str | None) -> str | None:
    """The practitioner a token for ``role`` with ``purpose`` carries: only facility roles may
    name one, and they must for an emergency access; raise :class:`PractitionerError`."""
    practitioner = parse_practitioner(value)
    if practitioner is not None and role not in FACILITY_ROLES:
        raise PractitionerError(
            "practitioner is only accepted for facility-system and practitioner tokens"
        )
    if purpose is PurposeOfUse.ETREAT and practitioner is None and role in FACILITY_ROLES:
        raise PractitionerError(
            "purpose_of_use ETREAT (emergency access) requires the practitioner acting "
            "(practitioner=Practitioner/<id>)"
        )
    return practitioner
