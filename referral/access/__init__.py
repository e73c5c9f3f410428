"""Time-boxed access for the parties of a referral or consultation (issue 15 items 7-8).

The grant is a FHIR ``Consent`` the hub records itself (``grants``: pure; ``service``: written
through the store), so the consent guard, its search SQL, the patient's view of their consents
and the audit log all treat it like any other consent.
"""

from referral.access.grants import GrantKind
from referral.access.service import (
    address_request,
    end_access,
    follow_move,
    grant_access,
    share_with,
)

__all__ = [
    "GrantKind",
    "address_request",
    "end_access",
    "follow_move",
    "grant_access",
    "share_with",
]
