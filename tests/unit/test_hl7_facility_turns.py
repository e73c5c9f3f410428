"""A facility's processing task works one turn; with work left it queues the facility again,
behind the tasks already waiting (other facilities'), instead of draining it to the end."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.hl7v2 import tasks
from adapters.hl7v2.processing import Progress


def _run(monkeypatch: pytest.MonkeyPatch, left: Progress, publish: Any) -> list[list[str]]:
    queued: list[list[str]] = []

    def apply_async(*, args: list[str], retry: bool) -> None:
        queued.append(args)
        publish()

    monkeypatch.setattr(tasks, "drain_facility", lambda code: left)
    monkeypatch.setattr(tasks.process_facility_task, "apply_async", apply_async)
    assert tasks.process_facility_task.run("H001") == left.processed
    return queued


def test_work_left_after_a_turn_queues_the_facility_again(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run(monkeypatch, Progress(processed=100, more=True), lambda: None) == [["H001"]]


def test_a_finished_facility_is_not_queued_again(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run(monkeypatch, Progress(processed=3), lambda: None) == []


def test_a_broker_away_leaves_the_facility_to_the_sweeper(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refused() -> None:
        raise ConnectionRefusedError("broker down")

    queued = _run(monkeypatch, Progress(processed=100, more=True), refused)
    assert queued == [["H001"]]  # tried, and the task still returned its count
    assert "could not queue H001's next turn" in caplog.text
