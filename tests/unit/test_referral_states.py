"""The referral Task's state table: who may move it where, and what a move needs."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from referral.states import (
    EXPIRED,
    EXPIRIES,
    MOVES,
    MoveRefused,
    RefusalKind,
    Side,
    check_move,
    check_new,
    expiry_from,
    find_move,
)

STATUSES = [
    "requested",
    "received",
    "accepted",
    "rejected",
    "in-progress",
    "completed",
    "cancelled",
]
OWNER = {"reference": "Organization/H001"}
BASE: dict[str, Any] = {"for": {"reference": "Patient/p"}, "owner": OWNER, "intent": "order"}
REASON = {"text": "满床"}


def _task(status: str, **more: Any) -> dict[str, Any]:
    return {**BASE, "status": status, **more}


def test_the_owner_walks_the_happy_path() -> None:
    path = ["requested", "received", "accepted", "in-progress", "completed"]
    for before, after in pairwise(path):
        move = check_move(_task(before), _task(after), Side.OWNER)
        assert move is not None and move.target == after


@pytest.mark.parametrize(("source", "target", "side"), [
    ("requested", "accepted", Side.REQUESTER),
    ("received", "accepted", Side.REQUESTER),
    ("accepted", "in-progress", Side.REQUESTER),
    ("requested", "cancelled", Side.OWNER),
])  # fmt: skip
def test_the_wrong_side_is_forbidden(source: str, target: str, side: Side) -> None:
    after = _task(target, statusReason=REASON)
    with pytest.raises(MoveRefused) as refused:
        check_move(_task(source), after, side)
    assert refused.value.kind is RefusalKind.FORBIDDEN


def test_a_third_facility_moves_nothing() -> None:
    with pytest.raises(MoveRefused) as refused:
        check_move(_task("requested"), _task("requested", note=[{"text": "x"}]), Side.OTHER)
    assert refused.value.kind is RefusalKind.FORBIDDEN


@pytest.mark.parametrize(("source", "target", "side"), [
    ("requested", "rejected", Side.OWNER),
    ("accepted", "rejected", Side.OWNER),
    ("accepted", "cancelled", Side.REQUESTER),
])  # fmt: skip
def test_rejecting_and_cancelling_need_a_reason(source: str, target: str, side: Side) -> None:
    with pytest.raises(MoveRefused) as refused:
        check_move(_task(source), _task(target), side)
    assert refused.value.kind is RefusalKind.INVALID
    assert check_move(_task(source), _task(target, statusReason=REASON), side) is not None


def test_a_hand_back_records_its_sub_state() -> None:
    move = find_move("accepted", "rejected")
    assert move is not None and move.business_status == "handed-back"


def test_only_a_redirect_readdresses_and_it_must() -> None:
    elsewhere = {"reference": "Organization/H002"}
    move = check_move(_task("rejected"), _task("requested", owner=elsewhere), Side.REQUESTER)
    assert move is not None and move.redirect
    with pytest.raises(MoveRefused):
        check_move(_task("rejected"), _task("requested"), Side.REQUESTER)
    with pytest.raises(MoveRefused) as same_status:
        check_move(_task("requested"), _task("requested", owner=elsewhere), Side.REQUESTER)
    assert same_status.value.kind is RefusalKind.CONFLICT


@pytest.mark.parametrize("name", ["for", "focus", "requester", "code"])
def test_who_and_what_never_change(name: str) -> None:
    with pytest.raises(MoveRefused) as refused:
        check_move(
            _task("requested"), _task("received", **{name: {"reference": "X/y"}}), Side.OWNER
        )
    assert refused.value.kind is RefusalKind.INVALID


def test_a_sub_state_changes_without_a_move() -> None:
    booked = _task("accepted", businessStatus={"text": "appointment-booked"})
    assert check_move(_task("accepted"), booked, Side.OWNER) is None


def test_a_new_task_starts_requested() -> None:
    check_new(_task("requested"))
    with pytest.raises(MoveRefused):
        check_new(_task("accepted"))


@given(st.sampled_from(STATUSES), st.sampled_from(STATUSES), st.sampled_from(list(Side)))
def test_every_status_change_is_in_the_table_or_refused(
    source: str, target: str, side: Side
) -> None:
    after = _task(target, statusReason=REASON)
    hub_expiry = side is Side.HUB and target == "cancelled"
    move = expiry_from(source) if hub_expiry else find_move(source, target)
    try:
        made = check_move(_task(source), after, side)
    except MoveRefused as refused:
        if side is Side.OTHER:
            assert refused.kind is RefusalKind.FORBIDDEN
        elif source != target and move is None:
            assert refused.kind is RefusalKind.CONFLICT
        else:
            assert move is not None
            if side is Side.SYSTEM:
                assert not move.by_system or move.redirect
            else:
                assert move.redirect or move.by is not side
        return
    assert side is not Side.OTHER
    if source == target:
        assert made is None
    else:
        assert made is move and move is not None and not move.redirect
        assert side in (move.by, Side.OPERATOR) or (side is Side.SYSTEM and move.by_system)


def test_terminal_states_have_no_way_out() -> None:
    for terminal in ("completed", "cancelled"):
        assert not [m for m in MOVES if m.source == terminal]


def test_the_hub_makes_only_the_moves_of_the_loop() -> None:
    system_moves = {(m.source, m.target) for m in MOVES if m.by_system}
    assert system_moves == {("accepted", "in-progress"), ("in-progress", "completed")}
    for source, target in system_moves:
        assert check_move(_task(source), _task(target), Side.SYSTEM) is not None
    for move in MOVES:
        if move.by_system:
            continue
        after = _task(move.target, statusReason=REASON)
        if move.redirect:
            after["owner"] = {"reference": "Organization/H002"}
        with pytest.raises(MoveRefused) as refused:
            check_move(_task(move.source), after, Side.SYSTEM)
        assert refused.value.kind is RefusalKind.FORBIDDEN, (move.source, move.target)


def test_the_hub_changes_no_fixed_element_and_may_note_a_sub_state() -> None:
    with pytest.raises(MoveRefused) as refused:
        check_move(_task("accepted"), _task("in-progress", **{"for": {"reference": "Patient/q"}}),
                   Side.SYSTEM)  # fmt: skip
    assert refused.value.kind is RefusalKind.INVALID
    noted = _task("in-progress", businessStatus={"text": "discharged"})
    assert check_move(_task("in-progress"), noted, Side.SYSTEM) is None


def test_the_hub_only_expires_referrals_not_yet_under_way() -> None:
    for source in ("requested", "received", "accepted"):
        made = check_move(_task(source), _task("cancelled", statusReason=REASON), Side.HUB)
        assert made is not None and made.by is Side.HUB and made.business_status == EXPIRED
    assert {move.source for move in EXPIRIES} == {"requested", "received", "accepted"}
    with pytest.raises(MoveRefused) as late:  # the patient arrived: too late to expire
        check_move(_task("in-progress"), _task("cancelled", statusReason=REASON), Side.HUB)
    assert late.value.kind is RefusalKind.CONFLICT
    with pytest.raises(MoveRefused) as accepting:  # the hub never accepts on a facility's behalf
        check_move(_task("requested"), _task("accepted"), Side.HUB)
    assert accepting.value.kind is RefusalKind.CONFLICT
    with pytest.raises(MoveRefused) as unexplained:
        check_move(_task("requested"), _task("cancelled"), Side.HUB)
    assert unexplained.value.kind is RefusalKind.INVALID
