"""Referral service levels: when a referral is overdue or expired, and what the hub writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from referral.sla import (
    OVERDUE,
    SlaAction,
    SlaRules,
    action_for,
    desk_notice,
    expired,
    flagged_overdue,
    is_flagged_overdue,
    load_sla_rules,
    notice_identifier,
)
from referral.states import EXPIRED, Side, check_move

MADE = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
RULES = load_sla_rules()


def _task(
    status: str = "requested", priority: str | None = "urgent", **more: Any
) -> dict[str, Any]:
    task = {
        "resourceType": "Task",
        "id": "t1",
        "status": status,
        "intent": "order",
        "authoredOn": MADE.isoformat(),
        "owner": {"reference": "Organization/H001"},
        "requester": {"reference": "Organization/TC001"},
        **more,
    }
    if priority is not None:
        task["priority"] = priority
    return task


def test_the_packaged_levels_are_the_issues() -> None:
    minutes = {name: level.accept_within_minutes for name, level in RULES.priorities.items()}
    assert minutes["stat"] == 30 and minutes["urgent"] == 240 and minutes["routine"] == 48 * 60
    assert RULES.level(None) == RULES.priorities[RULES.default_priority]
    assert RULES.level("no-such-priority") == RULES.priorities[RULES.default_priority]


def test_a_level_needs_positive_durations() -> None:
    with pytest.raises(ValidationError):
        SlaRules.model_validate(
            {
                "version": "x",
                "default_priority": "routine",
                "priorities": {"routine": {"accept_within_minutes": 0, "valid_for_days": 1}},
            }
        )


@pytest.mark.parametrize(
    ("priority", "waited", "expected"),
    [
        ("stat", timedelta(minutes=29), None),
        ("stat", timedelta(minutes=30), SlaAction.FLAG_OVERDUE),
        ("urgent", timedelta(hours=3, minutes=59), None),
        ("urgent", timedelta(hours=4), SlaAction.FLAG_OVERDUE),
        (None, timedelta(hours=47), None),  # no priority: routine, 48 h
        (None, timedelta(hours=48), SlaAction.FLAG_OVERDUE),
        ("urgent", timedelta(days=14), SlaAction.EXPIRE),
    ],
)
def test_what_is_due_when(priority: str | None, waited: timedelta, expected: SlaAction) -> None:
    assert action_for(RULES, _task(priority=priority), MADE + waited) is expected


def test_a_flagged_task_is_not_flagged_again_but_still_expires() -> None:
    flagged = flagged_overdue(_task())
    assert is_flagged_overdue(flagged) and flagged["status"] == "requested"
    assert action_for(RULES, flagged, MADE + timedelta(hours=5)) is None
    assert action_for(RULES, flagged, MADE + timedelta(days=15)) is SlaAction.EXPIRE


@pytest.mark.parametrize("status", ["accepted", "in-progress", "completed", "cancelled"])
def test_only_referrals_awaiting_acceptance_become_overdue(status: str) -> None:
    assert action_for(RULES, _task(status), MADE + timedelta(hours=5)) is None


def test_an_arrived_patient_keeps_the_referral_alive() -> None:
    assert action_for(RULES, _task("accepted"), MADE + timedelta(days=15)) is SlaAction.EXPIRE
    assert action_for(RULES, _task("in-progress"), MADE + timedelta(days=400)) is None


def test_a_task_without_authored_on_is_left_alone() -> None:
    task = _task()
    del task["authoredOn"]
    assert action_for(RULES, task, MADE + timedelta(days=400)) is None


def test_the_expiry_is_the_hubs_move_of_the_state_table() -> None:
    before = _task("received")
    after = expired(before)
    move = check_move(before, after, Side.HUB)
    assert move is not None and move.target == "cancelled" == after["status"]
    assert after["businessStatus"]["coding"][0]["code"] == EXPIRED
    with pytest.raises(ValueError):
        expired(_task("completed"))


def test_the_desk_notice_names_the_task_and_its_recipients() -> None:
    now = MADE + timedelta(hours=5)
    notice = desk_notice(RULES, _task(), SlaAction.FLAG_OVERDUE, now)
    assert notice["recipient"] == [{"reference": "Organization/H001"}]
    assert notice["about"] == [{"reference": "Task/t1"}]
    assert notice["identifier"] == [notice_identifier("t1", SlaAction.FLAG_OVERDUE)]
    assert "12:00" in notice["payload"][0]["contentString"]  # due 4 h after 08:00
    assert "subject" not in notice  # no personal data: the desk follows the Task
    expiry = desk_notice(RULES, _task(), SlaAction.EXPIRE, now)
    assert {r["reference"] for r in expiry["recipient"]} == {
        "Organization/H001",
        "Organization/TC001",
    }
    assert notice_identifier("t1", SlaAction.EXPIRE) != notice_identifier("t1", OVERDUE)
