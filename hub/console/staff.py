"""Staff roles of the console, and the ``Actor`` each signed-in staff member acts as.

The actor carries the role and scopes the API grants that kind of user
(``hub.auth.roles.DEFAULT_SCOPES``) and the role's default purpose of use, so the store's
authorization, consent guard and audit treat a console page exactly as an API call. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hub.auth.actor import Actor
from hub.auth.purpose import DEFAULT_PURPOSE
from hub.auth.roles import DEFAULT_SCOPES, Role

CONSOLE_CLIENT_PREFIX = "console:"  # the audit log's client id of a staff member: console:<name>


class StaffRole(StrEnum):
    practitioner = "practitioner"
    referral_desk = "referral-desk"
    data_steward = "data-steward"
    auditor = "auditor"  # the fund's insurance auditor (医保稽核)
    operator = "operator"


# The API role each staff role acts as. The referral desk books and receives on its facility's
# behalf, as its practitioners do; the auditor is the fund's (Role.insurance_auditor).
API_ROLE: dict[StaffRole, Role] = {
    StaffRole.practitioner: Role.practitioner,
    StaffRole.referral_desk: Role.practitioner,
    StaffRole.data_steward: Role.data_steward,
    StaffRole.auditor: Role.insurance_auditor,
    StaffRole.operator: Role.operator,
}
TOTP_REQUIRED = frozenset({StaffRole.auditor, StaffRole.operator})


@dataclass(frozen=True)
class StaffMember:
    """The signed-in staff member of a request, as a page handler receives it."""

    username: str
    display_name: str
    facility: str
    role: StaffRole
    actor: Actor
    csrf_token: str
    language: str


def actor_for(
    username: str,
    facility: str,
    role: StaffRole,
    *,
    practitioner: str | None = None,
    source_address: str | None = None,
) -> Actor:
    """The identity a staff member's store calls carry (scopes and purpose as the API's)."""
    api_role = API_ROLE[role]
    purpose = DEFAULT_PURPOSE[api_role]
    return Actor.build(
        client_id=f"{CONSOLE_CLIENT_PREFIX}{username}",
        facility=facility,
        role=api_role,
        scope=DEFAULT_SCOPES[api_role],
        purpose_of_use=str(purpose) if purpose is not None else None,
        source_address=source_address,
        practitioner=practitioner,
    )
