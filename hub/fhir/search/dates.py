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
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
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


def date_range(text: str) -> tuple[datetime, datetime]:
    """The half-open UTC range a FHIR date, dateTime or instant stands for."""
    match = _DATE_RE.match(text.strip())
    if not match:
        raise DateFormatError(f"not a FHIR date: {text[:40]!r}")
    g = match.groupdict()
    tz = _tz(g["tz"])
    try:
        year = int(g["y"])
        if g["m"] is None:
            low = datetime(year, 1, 1, tzinfo=tz)
            high = low.replace(year=year + 1) if year < 9999 else MAX_DT
        elif g["d"] is None:
            low = datetime(year, int(g["m"]), 1, tzinfo=tz)
            high = _add_months(low, 1) if year < 9999 or low.month < 12 else MAX_DT
        elif g["H"] is None:
            low = datetime(year, int(g["m"]), int(g["d"]), tzinfo=tz)
            high = low + timedelta(days=1)
        else:
            second = int(g["S"]) if g["S"] else 0
            fraction = g["f"] or ""
            micro = int((fraction + "000000")[:6]) if fraction else 0
            low = datetime(
                year, int(g["m"]), int(g["d"]), int(g["H"]), int(g["M"]), second, micro, tzinfo=tz
            )
            if g["S"] is None:
                step = timedelta(minutes=1)
            elif fraction:
                step = timedelta(microseconds=10 ** max(0, 6 - len(fraction)))
            else:
                step = timedelta(seconds=1)
            high = low + step
    except (ValueError, OverflowError) as exc:
        raise DateFormatError(f"not a valid date: {text[:40]!r}") from exc
    return max(low.astimezone(UTC), MIN_DT), min(high.astimezone(UTC), MAX_DT)
