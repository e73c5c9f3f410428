"""FHIR date/dateTime/instant values as half-open UTC ranges [low, high).

A value's precision is its range: ``1980`` covers the whole year, ``1980-03-02`` the day.
Values without a zone are read in the region's zone (Asia/Shanghai by default), both when
indexing and when searching, so the two always agree.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

MIN_DT = datetime(1, 1, 2, tzinfo=UTC)
MAX_DT = datetime(9999, 12, 30, tzinfo=UTC)
REGION_TZ = ZoneInfo("Asia/Shanghai")

_DATE_RE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d{1,9}))?)?"
    r"(?P<tz>Z|[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00))?)?)?)?$"
)


class DateFormatError(ValueError):
    pass


def _tz(text: str | None) -> tzinfo:
    if text is None:
        return REGION_TZ
    if text == "Z":
        return UTC
    sign = 1 if text[0] == "+" else -1
    hours, minutes = int(text[1:3]), int(text[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _add_months(value: datetime, months: int) -> datetime:
    month0 = value.month - 1 + months
    return value.replace(year=value.year + month0 // 12, month=month0 % 12 + 1)


def _start(g: dict[str, str | None]) -> datetime:
    """The first instant of the value, in its own zone (ValueError if no such date)."""
    tz = _tz(g["tz"])
    year, month, day = int(g["y"] or 0), int(g["m"] or 1), int(g["d"] or 1)
    if g["H"] is None:
        return datetime(year, month, day, tzinfo=tz)
    fraction = g["f"] or ""
    return datetime(
        year,
        month,
        day,
        int(g["H"]),
        int(g["M"] or 0),
        int(g["S"] or 0),
        int((fraction + "000000")[:6]),
        tzinfo=tz,
    )


def _end(low: datetime, g: dict[str, str | None]) -> datetime:
    """The first instant after the value at its precision (MAX_DT past the calendar's end)."""
    try:
        if g["m"] is None:
            return low.replace(year=low.year + 1)
        if g["d"] is None:
            return _add_months(low, 1)
        if g["H"] is None:
            return low + timedelta(days=1)
        if g["S"] is None:
            return low + timedelta(minutes=1)
        if g["f"]:
            return low + timedelta(microseconds=10 ** max(0, 6 - len(g["f"])))
        return low + timedelta(seconds=1)
    except (ValueError, OverflowError):
        return MAX_DT


def _utc(value: datetime) -> datetime:
    """``value`` in UTC, clamped to [MIN_DT, MAX_DT]."""
    try:
        converted = value.astimezone(UTC)
    except OverflowError:
        return MIN_DT if value.year == 1 else MAX_DT
    return min(max(converted, MIN_DT), MAX_DT)


def date_range(text: str) -> tuple[datetime, datetime]:
    """The half-open UTC range a FHIR date, dateTime or instant stands for."""
    match = _DATE_RE.match(text.strip())
    if not match:
        raise DateFormatError(f"not a FHIR date: {text[:40]!r}")
    g = match.groupdict()
    try:
        low = _start(g)
    except ValueError as exc:
        raise DateFormatError(f"not a valid date: {text[:40]!r}") from exc
    return _utc(low), _utc(_end(low, g))
