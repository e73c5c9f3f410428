"""The in-process dispatcher keeps running through failures, and says so in one line when the
database is unreachable (a dropped or restarting database must not flood the log with traces)."""

from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from hub.work_queues import InProcessDispatcher, WorkQueue


def _queue(drain_calls: list[str], failures: list[Exception], done: threading.Event) -> WorkQueue:
    def drain(key: str) -> None:
        drain_calls.append(key)
        if failures:
            raise failures.pop(0)
        done.set()

    def due(_session: Session) -> list[str]:
        return []

    return WorkQueue("test-queue", "hub.test.drain", drain, due)


def test_an_unreachable_database_is_one_warning_and_work_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []
    unreachable = OperationalError("SELECT 1", {}, Exception('database "x" does not exist\nmore'))
    done = threading.Event()
    dispatcher = InProcessDispatcher(_queue(calls, [unreachable], done), sweep_seconds=60)
    try:
        with caplog.at_level(logging.WARNING, logger="hub.work_queues"):
            dispatcher.notify(["a"])
            dispatcher.notify(["b"])  # may join "a"'s round or come after it
            deadline = threading.Event()
            for _ in range(50):
                if done.is_set() and "b" in calls:
                    break
                deadline.wait(0.1)
                dispatcher.notify(["b"])
    finally:
        dispatcher.close()
    assert done.is_set() and "b" in calls  # the thread survived the failure
    warnings = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert 'database "x" does not exist' in warnings[0].getMessage()
    assert "more" not in warnings[0].getMessage()


def test_a_key_whose_turn_ends_with_work_left_goes_again_after_the_others() -> None:
    """A facility that keeps sending must not hold the thread while another's messages wait."""
    turns_left = {"busy": 3, "quiet": 1}
    calls: list[str] = []
    finished = threading.Event()

    def drain(key: str) -> bool:
        calls.append(key)
        turns_left[key] -= 1
        if not any(turns_left.values()):
            finished.set()
        return turns_left[key] > 0  # work left after this turn

    def due(_session: Session) -> list[str]:
        return []

    queue = WorkQueue("test-turns", "hub.test.turns", drain, due, unfinished=bool)
    dispatcher = InProcessDispatcher(queue, sweep_seconds=60)
    try:
        dispatcher.notify(["busy", "quiet"])
        assert finished.wait(10)
    finally:
        dispatcher.close()
    assert calls[:2] == ["busy", "quiet"]  # the quiet one's turn came after one busy turn
    assert calls.count("busy") == 3 and calls.count("quiet") == 1


def test_by_default_a_drain_finishes_its_key() -> None:
    calls: list[str] = []
    done = threading.Event()
    dispatcher = InProcessDispatcher(_queue(calls, [], done), sweep_seconds=60)
    try:
        dispatcher.notify(["a"])
        assert done.wait(10)
        threading.Event().wait(0.3)  # time for a second round, if one were wrongly queued
    finally:
        dispatcher.close()
    assert calls == ["a"]
