"""The fair-use rules without a database: the rules file's model, sessions, the 爽约 rule."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from referral.scheduling.errors import BookingError
from referral.scheduling.fair_use import (
    FairUseRules,
    day_window,
    load_fair_use_rules,
    session_window,
    suspended_until,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
RULES = FairUseRules(noshow_limit=3, noshow_window_days=90, suspension_days=30)


def test_the_packaged_rules_load_and_bad_rules_are_refused() -> None:
    assert load_fair_use_rules().max_per_department_session == 1
    with pytest.raises(ValidationError):
        FairUseRules.model_validate({"max_active_per_day": 0})
    with pytest.raises(ValidationError):
        FairUseRules.model_validate({"max_per_day": 2})  # a misspelt rule is not ignored


def test_a_slot_falls_in_its_local_day_and_half_day() -> None:
    late_evening_utc = datetime(2027, 3, 1, 17, 0, tzinfo=UTC)  # 01:00 on 2 March in Shanghai
    begin, end = day_window(late_evening_utc, SHANGHAI)
    assert begin == datetime(2027, 3, 2, tzinfo=SHANGHAI) and end - begin == timedelta(days=1)
    morning = datetime(2027, 3, 2, 11, 30, tzinfo=SHANGHAI)
    afternoon = datetime(2027, 3, 2, 14, 0, tzinfo=SHANGHAI)
    assert session_window(morning, SHANGHAI, time(12))[1].hour == 12
    assert session_window(afternoon, SHANGHAI, time(12))[0].hour == 12
    assert session_window(morning, SHANGHAI, time(12)) != session_window(
        afternoon, SHANGHAI, time(12)
    )


def test_k_noshows_within_the_window_suspend_for_d_days() -> None:
    three = [NOW - timedelta(days=d) for d in (80, 40, 2)]
    assert suspended_until(three, NOW, RULES) == NOW - timedelta(days=2) + timedelta(days=30)
    assert suspended_until(three[:2], NOW, RULES) is None  # two are not enough
    spread = [NOW - timedelta(days=d) for d in (200, 100, 2)]  # not within 90 days
    assert suspended_until(spread, NOW, RULES) is None
    served = [NOW - timedelta(days=d) for d in (100, 60, 31)]  # suspension already over
    assert suspended_until(served, NOW, RULES) is None


@pytest.mark.parametrize(
    ("reason", "status"),
    [("daily-limit", 409), ("session-limit", 409), ("booking-suspended", 403),
     ("referral-not-accepted", 409), ("already-waiting", 409), ("slot-not-full", 409)],
)  # fmt: skip
def test_each_refusal_names_its_reason(reason: str, status: int) -> None:
    error = BookingError(reason, "refused")
    assert error.status == status
    assert error.outcome()["issue"][0]["details"]["coding"][0]["code"] == reason
