"""Fair-use rules (号源公平): the rules as data and the decisions they make. Pure: no I/O.

The rules live in ``data/booking.json`` under ``fair_use`` and are checked by
:class:`FairUseRules` (pydantic) so a bad file fails at load, not at the first booking:

- at most ``max_active_per_day`` active places (held or booked) per person on one local day;
- at most ``max_per_department_session`` per person in one department's session (a Schedule's
  morning or afternoon: slots before or after ``session_split``, local time);
- a person with ``noshow_limit`` no-shows within ``noshow_window_days`` is suspended from
  booking for ``suspension_days`` after the last of them (爽约).

The counting is done by :mod:`referral.scheduling.fair_use_ledger` under the person's lock row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, PositiveInt

from referral.scheduling.config import DEFAULT_CONFIG


class FairUseRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_active_per_day: PositiveInt = 3
    max_per_department_session: PositiveInt = 1
    noshow_limit: PositiveInt = 3
    noshow_window_days: PositiveInt = 90
    suspension_days: PositiveInt = 90
    session_split: time = time(12, 0)

    @property
    def noshow_lookback(self) -> timedelta:
        """How far back a no-show can still matter: its window plus the suspension."""
        return timedelta(days=self.noshow_window_days + self.suspension_days)


@cache
def load_fair_use_rules(path: Path = DEFAULT_CONFIG) -> FairUseRules:
    data = json.loads(path.read_text(encoding="utf-8"))
    return FairUseRules.model_validate(data.get("fair_use", {}))


def day_window(start: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day (in the hospital's time zone) a slot starting at ``start`` falls on."""
    local = start.astimezone(zone)
    begin = datetime.combine(local.date(), time(0), tzinfo=zone)
    return begin, begin + timedelta(days=1)


def session_window(start: datetime, zone: ZoneInfo, split: time) -> tuple[datetime, datetime]:
    """The session (morning: before ``split``; afternoon: from it) a slot falls in."""
    begin, end = day_window(start, zone)
    middle = datetime.combine(begin.date(), split, tzinfo=zone)
    return (begin, middle) if start.astimezone(zone) < middle else (middle, end)


def suspended_until(
    noshows: Iterable[datetime], now: datetime, rules: FairUseRules
) -> datetime | None:
    """When the person's suspension ends, or None when they may book now.

    A suspension starts at a no-show that is the ``noshow_limit``-th within
    ``noshow_window_days`` (itself included) and lasts ``suspension_days``."""
    times = sorted(noshows)
    window = timedelta(days=rules.noshow_window_days)
    length = timedelta(days=rules.suspension_days)
    ends = [
        at + length
        for i, at in enumerate(times)
        if sum(1 for earlier in times[: i + 1] if at - earlier < window) >= rules.noshow_limit
    ]
    latest = max(ends, default=None)
    return latest if latest is not None and latest > now else None
