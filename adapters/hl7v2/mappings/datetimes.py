"""HL7 v2 DT/DTM/TS values to FHIR date, dateTime and instant.

A value sent without an offset is China Standard Time; a value that cannot be a date (month 13,
an offset beyond +14:00) is an :class:`Hl7ContentError` naming the field, never its content.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from adapters.hl7v2.mappings.common import content_error

CHINA = timezone(timedelta(hours=8))  # Asia/Shanghai has kept +08:00 without DST since 1991

_DTM = re.compile(r"(\d{4})(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\.\d{1,6})?(?:([+-])(\d\d)(\d\d))?")


def _parts(value: str, location: str) -> tuple[re.Match[str], str, str]:
    match = _DTM.fullmatch(value.strip())
    if match is None:
        raise content_error(
            f"{location} is not an HL7 date/time (YYYY[MM[DD[HHMM[SS]]]][+ZZZZ])", location
        )
    year, month, day = match[1], match[2] or "01", match[3] or "01"
    hour, minute, second = match[4] or "00", match[5] or "00", match[6] or "00"
    offset_hours = int(match[9]) if match[8] else 0
    try:
        datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        raise content_error(f"{location} is not a possible date or time", location) from None
    if year == "0000" or offset_hours > 14 or (match[10] and int(match[10]) > 59):
        raise content_error(f"{location} has a year or time-zone offset out of range", location)
    offset = f"{match[8]}{match[9]}:{match[10]}" if match[8] else "+08:00"
    return match, f"{hour}:{minute}:{second}{match[7] or ''}", offset


def to_date(value: str, location: str) -> str | None:
    """HL7 DT/DTM to a FHIR date at the precision sent (a time part is dropped)."""
    if not value:
        return None
    match, _, _ = _parts(value, location)
    return "-".join(p for p in (match[1], match[2], match[3] and match[2] and match[3]) if p)


def to_datetime(value: str, location: str) -> str | None:
    """HL7 TS/DTM to a FHIR dateTime; no offset means China Standard Time (+08:00)."""
    if not value:
        return None
    match, clock, offset = _parts(value, location)
    if not match[4] or not match[3]:
        return to_date(value, location)
    return f"{match[1]}-{match[2]}-{match[3]}T{clock}{offset}"


def to_instant(value: str, location: str) -> str | None:
    """A FHIR instant (seconds and offset required); a value sent to the day only gives None."""
    if not value:
        return None
    match, clock, offset = _parts(value, location)
    if not match[4]:
        return None
    return f"{match[1]}-{match[2]}-{match[3]}T{clock}{offset}"


def parse_instant(text: str) -> datetime:
    return datetime.fromisoformat(text)
