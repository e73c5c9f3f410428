"""bench/stack_faults.py's verdicts (bench/fault_check.py): what counts as lost, duplicated or a
dead letter, and the error window and recovery it prints. Pure: no stack is started here."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from fault_check import Attempt, PhaseResult, check, recovery, report_lines


def test_an_acknowledged_item_found_once_under_its_id_passes() -> None:
    result = check("Patient", {"P1": "a", "P2": "b"}, {"P1": ["a"], "P2": ["b"]})
    assert (result.acknowledged, result.found_once, result.lost, result.duplicated) == (
        2, 2, [], [],
    )  # fmt: skip
    assert result.passed


def test_an_acknowledged_item_missing_or_under_another_id_is_lost() -> None:
    result = check("Patient", {"P1": "a", "P2": "b"}, {"P2": ["c"]})
    assert result.lost == ["P1", "P2"]
    assert not result.passed


def test_an_item_stored_twice_is_duplicated_even_if_the_client_never_got_a_2xx() -> None:
    result = check("Patient", {"P1": "a"}, {"P1": ["a", "x"], "P9": ["y", "z"]}, sent=["P1", "P9"])
    assert result.duplicated == ["P1", "P9"]
    assert result.lost == [] and result.found_once == 0
    assert not result.passed


def test_a_refused_item_that_was_never_stored_is_neither_lost_nor_duplicated() -> None:
    result = check("Patient", {}, {}, sent=["P1"])
    assert result.passed and result.acknowledged == 0


def test_a_dead_letter_is_counted_apart_not_lost_unless_it_was_found() -> None:
    result = check("notifications", {"o1": None, "o2": None}, {"o2": ["200"]}, excused=["o1"])
    assert (result.excused, result.lost, result.found_once) == (["o1"], [], 1)
    stored_anyway = check("notifications", {"o1": None}, {"o1": ["200", "200"]}, excused=["o1"])
    assert stored_anyway.duplicated == ["o1"] and stored_anyway.excused == []


def _attempt(started: float, ok: bool, detail: str, channel: str = "http") -> Attempt:
    return Attempt(channel, f"k{started}", started, started + 0.1, ok, detail)


def test_the_error_window_and_the_first_success_are_measured_from_the_fault() -> None:
    attempts = [
        _attempt(9.0, True, "201"),
        _attempt(10.2, False, "502"),  # in flight on the killed replica
        _attempt(10.5, True, "201"),  # the other replica
        _attempt(12.0, False, "ConnectError"),
        _attempt(13.0, False, "502"),
        _attempt(11.0, True, "AA", channel="mllp"),
    ]
    found = recovery("http", attempts, fault_at=10.0)
    assert (found.attempts, found.successes, found.errors) == (5, 2, 3)
    assert found.first_error is not None and found.last_error is not None
    assert (round(found.first_error, 3), round(found.last_error, 3)) == (0.3, 3.1)
    assert found.first_success_after_fault is not None
    assert round(found.first_success_after_fault, 3) == 0.6
    assert found.errors_by_kind == {"502": 2, "ConnectError": 1}


def test_a_channel_without_errors_has_no_window() -> None:
    found = recovery("mllp", [_attempt(1.0, True, "AA", channel="mllp")], fault_at=5.0)
    assert (found.first_error, found.last_error, found.first_success_after_fault) == (
        None, None, None,
    )  # fmt: skip


def test_a_phase_fails_when_anything_is_lost_duplicated_or_left_undrained() -> None:
    good = check("Patient", {"P1": "a"}, {"P1": ["a"]})
    lost = check("Patient", {"P1": "a"}, {})
    assert PhaseResult("kill-api", [], [good], drained_after=12.0).passed
    assert not PhaseResult("kill-api", [], [good], drained_after=None).passed
    failed = PhaseResult("kill-api", [], [good, lost], drained_after=12.0)
    assert (failed.passed, failed.lost, failed.duplicated) == (False, 1, 0)
    lines = report_lines(failed)
    assert lines[0] == "== kill-api: FAIL"
    assert "    lost: P1" in lines and lines[-1] == "  lost 1, duplicated 0"
