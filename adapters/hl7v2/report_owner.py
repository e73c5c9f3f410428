"""Reports on the hub's bookings, checked before the ACK: the intake check that reads.

An SIU S14/S26 naming the hub's Appointment (``mappings/siu.py``) reports its arrival,
completion or no-show, and only the facility that owns the appointment's slot may send one
(``referral.scheduling.his_reports``). Who owns it is a read of the booking ledger and the
Schedule, which the pure intake (``intake.py``) cannot make; the gateway makes it for the frames
that carry such a report, and only those, before the frame is stored. A report from any other
facility (or on an appointment the hub does not know: the answer is the same, so it tells the
sender nothing) is answered AE with ERR 204 at the SCH field that named it, kept as a refused
message with an audit record, and never applied. The worker checks again when it applies a
report (``report_status``): this check spares the sender a silent dead letter; the worker's
stays the guarantee (a slot whose owner changes in between).
"""

from __future__ import annotations

from adapters.hl7v2.errors import ErrorCode, Hl7ContentError
from adapters.hl7v2.intake import Received
from hub.db import session_scope
from referral.scheduling.his_reports import NOT_SLOT_OWNER, owns_booking

RULE = "not-slot-owner"


def foreign_report(frame: Received) -> Hl7ContentError | None:
    """The refusal of a frame reporting on a booking outside its facility's slots, or None."""
    facility = frame.facility_code or ""
    with session_scope() as session:
        for report in frame.status_reports:
            if not owns_booking(session, facility, report.appointment_id):
                return Hl7ContentError(
                    f"{RULE}: {NOT_SLOT_OWNER}; {report.location} names no appointment in a "
                    "slot of the sending facility",
                    code=ErrorCode.UNKNOWN_KEY,
                    location=report.location,
                )
    return None
