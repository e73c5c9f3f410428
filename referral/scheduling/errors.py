"""Booking refusals as FHIR errors: each carries a stable reason code an app can show.

BookingError(FhirError)      409 unless said otherwise; issue.details names the reason
"""

from __future__ import annotations

from typing import Any

from hub.errors import FhirError
from hub.fhir.systems import NAMESPACE

REFUSAL_SYSTEM = f"{NAMESPACE}/CodeSystem/booking-refusal"
# reason -> (HTTP status, OperationOutcome issue code)
_REASONS: dict[str, tuple[int, str]] = {
    "unknown-slot": (400, "invalid"),
    "several-slots": (400, "not-supported"),
    "no-patient": (400, "required"),
    "slot-past": (409, "business-rule"),
    "slot-full": (409, "conflict"),
    "slot-referral-only": (409, "business-rule"),
    "duplicate-booking": (409, "duplicate"),
    "already-placed": (409, "duplicate"),
    "already-requested": (409, "duplicate"),
    "hold-expired": (409, "business-rule"),
    "place-released": (409, "business-rule"),
    "capacity-below-booked": (409, "business-rule"),
    "not-a-hold": (400, "invalid"),
    # fair-use rules (referral/scheduling/fair_use.py) and the waitlist
    "daily-limit": (409, "business-rule"),
    "session-limit": (409, "business-rule"),
    "booking-suspended": (403, "forbidden"),
    "referral-not-accepted": (409, "business-rule"),
    "slot-not-full": (409, "business-rule"),
    "already-waiting": (409, "duplicate"),
    "waiting": (409, "business-rule"),
    # the hospital's reports on a booking (referral/scheduling/his_reports.py)
    "not-slot-owner": (403, "forbidden"),
    "status-only": (409, "business-rule"),
    # the referral desk marking a booking (referral/scheduling/desk.py)
    "slot-not-begun": (409, "business-rule"),
    "not-booked": (409, "business-rule"),
}


class BookingError(FhirError):
    def __init__(self, reason: str, diagnostics: str) -> None:
        status, code = _REASONS.get(reason, (409, "conflict"))
        super().__init__(diagnostics, status=status, code=code)
        self.reason = reason

    def outcome(self) -> dict[str, Any]:
        outcome = super().outcome()
        outcome["issue"][0]["details"] = {
            "coding": [{"system": REFUSAL_SYSTEM, "code": self.reason}],
            "text": self.diagnostics,
        }
        return outcome
