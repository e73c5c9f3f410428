"""The referral report's arithmetic, on facts built by hand (no store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from referral.stats import (
    ReferralFacts,
    TaskVersion,
    build_report,
    milestones,
    percentile,
    report_rows,
)

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


def _at(hours: float, status: str, *business: str, output: bool = False) -> TaskVersion:
    return TaskVersion(T0 + timedelta(hours=hours), status, frozenset(business), output)


def _referral(
    task_id: str, *versions: TaskVersion, direction: str = "up", specialty: str = "心内科"
) -> ReferralFacts:
    pair = "1->3" if direction == "up" else "3->1"
    return ReferralFacts(task_id, direction, pair, "西陵区", specialty, tuple(versions))


CLOSED = _referral(
    "a",
    _at(0, "requested"),
    _at(2, "accepted"),
    _at(26, "in-progress", "arrived"),
    _at(100, "completed", "feedback-returned"),
)
ACCEPTED_ONLY = _referral("b", _at(0, "requested"), _at(6, "accepted"), specialty="骨科")
OVERDUE_NOW = _referral("c", _at(0, "requested"), _at(5, "requested", "overdue"))
LATE_THEN_ACCEPTED = _referral(
    "d", _at(0, "requested"), _at(5, "requested", "overdue"), _at(10, "accepted", "overdue")
)
EXPIRED = _referral("e", _at(0, "requested"), _at(400, "cancelled", "expired"), direction="down")
COMPLETED_WITHOUT_FEEDBACK = _referral(
    "f", _at(0, "requested"), _at(1, "accepted"), _at(3, "in-progress"), _at(4, "completed")
)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 0.9) == 9.0
    assert percentile(values, 0.5) == 5.0
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([], 0.9) is None


def test_milestones_of_a_closed_loop() -> None:
    marks = milestones(CLOSED.versions)
    assert marks.accepted == T0 + timedelta(hours=2)
    assert marks.arrived == T0 + timedelta(hours=26)
    assert marks.closed_with_feedback and not marks.ever_overdue and not marks.expired


def test_versions_are_read_in_time_order_whatever_order_they_come_in() -> None:
    marks = milestones(tuple(reversed(CLOSED.versions)))
    assert marks.created == T0 and marks.accepted == T0 + timedelta(hours=2)


def test_an_arrival_without_a_separate_accept_counts_as_accepted_then() -> None:
    marks = milestones((_at(0, "requested"), _at(3, "in-progress")))
    assert marks.accepted == marks.arrived == T0 + timedelta(hours=3)


def test_the_report() -> None:
    report = build_report(
        [
            CLOSED,
            ACCEPTED_ONLY,
            OVERDUE_NOW,
            LATE_THEN_ACCEPTED,
            EXPIRED,
            COMPLETED_WITHOUT_FEEDBACK,
        ]
    )
    assert report["referrals"] == 6
    assert report["counts"]["direction"] == {"down": 1, "up": 5}
    assert report["counts"]["tier_pair"] == {"1->3": 5, "3->1": 1}
    assert report["counts"]["specialty"] == {"心内科": 5, "骨科": 1}
    # accepted after 2, 6, 10 and 1 hours
    assert report["time_to_accept"] == {"count": 4, "median_hours": 4.0, "p90_hours": 10.0}
    assert report["time_to_arrival"] == {"count": 2, "median_hours": 14.5, "p90_hours": 26.0}
    assert report["loop_closure"] == {"accepted": 4, "completed_with_feedback": 1, "rate": 0.25}
    assert report["overdue"] == {"ever": 2, "now": 1, "expired": 1}


def test_an_empty_report_has_no_rates() -> None:
    report = build_report([])
    assert report["referrals"] == 0
    assert report["loop_closure"]["rate"] is None
    assert report["time_to_accept"]["median_hours"] is None


def test_report_rows_carry_every_figure() -> None:
    rows = report_rows(build_report([CLOSED, EXPIRED]))
    assert {"measure": "referrals", "by": "direction", "group": "down", "value": 1} in rows
    assert {"measure": "loop_closure", "by": "", "group": "rate", "value": 1.0} in rows
    assert {"measure": "overdue", "by": "", "group": "expired", "value": 1} in rows
