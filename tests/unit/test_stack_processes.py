"""Starting, probing and stopping the stack's processes (real, tiny processes)."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from hub.stack.processes import NotReady, Probe, ProcessSpec, Running, start, stop, wait_ready

IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready.', "
    "flush=True); time.sleep(60)"
)


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    spec = ProcessSpec("stubborn", [sys.executable, "-c", IGNORES_SIGTERM], Probe("log", "ready."))
    running = start(spec, tmp_path)
    wait_ready([running], timeout=20)
    began = time.monotonic()
    stop([running], grace=1.0)
    assert not running.alive()
    assert 1.0 <= time.monotonic() - began < 10


def test_a_process_that_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    spec = ProcessSpec("broken", [sys.executable, "-c", "print('bad config'); raise SystemExit(3)"],
                       Probe("tcp", "1"))  # fmt: skip
    running = start(spec, tmp_path)
    with pytest.raises(NotReady, match=r"broken exited(.|\n)*bad config"):
        wait_ready([running], timeout=20)


def test_a_reused_pid_is_not_taken_for_the_process(tmp_path: Path) -> None:
    spec = ProcessSpec("sleeper", ["sleep", "30"], Probe("log", "never"))
    running = start(spec, tmp_path)
    try:
        assert running.alive()
        assert not replace(running, started="1").alive()  # same pid, another start time
        again = Running.from_json(json.loads(json.dumps(running.as_json())))
        assert again == running
    finally:
        stop([running], grace=5)


def test_a_restart_keeps_the_last_log_apart(tmp_path: Path) -> None:
    spec = ProcessSpec("echo", ["echo", "ready."], Probe("log", "ready."))
    start(spec, tmp_path)
    time.sleep(0.5)
    second = start(replace(spec, argv=["echo", "second"]), tmp_path)
    time.sleep(0.5)
    assert "ready." in (tmp_path / "echo.log.1").read_text()
    assert not second.probe.ready(Path(second.log))  # the old "ready." is not this run's
