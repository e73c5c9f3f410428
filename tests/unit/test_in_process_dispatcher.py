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
