"""What the hospital's HIS is told about a booking, and what it may tell back: pure, no I/O.

Outbound (HL7 v2.5 chapter 10, the filler's unsolicited notifications): S12 a new booking, S13
a reschedule (another slot or time: v2.5 calls S13 "rescheduling" and S14 "modification"), S14
any other change of a booked appointment, S15 its cancellation, S17 its deletion. The hub is
the filler of its own bookings, so SCH-1 and SCH-2 both carry the hub's Appointment id under
the hub's namespace; an HIS answers about that id.

Inbound: the HIS reports what happened at the desk (arrival, the visit done, a no-show) on an
appointment the hub booked. Only those statuses, and only the status: the booking itself (slot,
patient, times) is the hub's. SCH-25 (filler status, table 0278) maps as in the HL7 v2-to-FHIR
IG's ConceptMap; S26 is a no-show whatever SCH-25 says.
"""

from __future__ import annotations

from typing import Any

# Statuses the facility that owns the slot may report on a hub booking.
REPORTABLE = frozenset({"arrived", "checked-in", "fulfilled", "noshow"})
# Table 0278 (filler status code) -> Appointment.status, for the reportable ones only.
FILLER_STATUS = {"started": "arrived", "arrived": "arrived", "checkedin": "checked-in",
                 "complete": "fulfilled", "noshow": "noshow"}  # fmt: skip
_WHEN = ("start", "end", "slot")


def siu_event(
    previous: dict[str, Any] | None, current: dict[str, Any], *, deleted: bool = False
) -> str | None:
    """The SIU trigger event for a write of ``current`` after ``previous`` (None: no message)."""
    before = (previous or {}).get("status")
    if deleted:
        return "S17" if current.get("status") == "booked" else None
    status = current.get("status")
    if status == "booked":
        if before != "booked":
            return "S12"
        moved = any((previous or {}).get(k) != current.get(k) for k in _WHEN)
        return "S13" if moved else "S14"
    if status == "cancelled" and before == "booked":
        return "S15"
    return None


def reported_status(trigger_event: str, filler_status: str) -> str | None:
    """The Appointment.status an inbound SIU reports on a hub booking (None: none it may)."""
    if trigger_event == "S26":
        return "noshow"
    if trigger_event != "S14":
        return None
    return FILLER_STATUS.get(filler_status.strip().lower().replace("-", "").replace(" ", ""))


def only_status_changed(previous: dict[str, Any], current: dict[str, Any]) -> bool:
    """True when ``current`` differs from ``previous`` in its status alone (meta aside)."""
    ignored = ("meta", "status", "text")
    keys = (set(previous) | set(current)) - set(ignored)
    return all(previous.get(k) == current.get(k) for k in keys)
