"""Faults with a real broker and real processes: nothing acknowledged is ever lost.

Each test runs its own Redis server (so the broker can really go down and come back), the
listener (``hub mllp``) and a Celery worker (``hub worker``) as subprocesses against the test
database, and kills them with SIGKILL where a crash would hurt most.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.hl7v2.client import send_messages
from adapters.hl7v2.inbox_queue import INBOX
from adapters.hl7v2.models import InboxAttemptRow, InboxRow, MessageStatus
from hub.db import session_scope
from hub.work_queues import install_dispatcher
from tests.integration.hl7_harness import IdleDispatcher, inbox_rows, msa, observed_rows
from tests.integration.test_hl7_gateway import FACILITY, adt, patient_by_mrn, patients_by_mrn

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port}")


class Stack:
    """A private broker plus listener and worker processes sharing the test database."""

    def __init__(self, run_dir: Path) -> None:
        self.redis_port, self.mllp_port = _free_port(), _free_port()
        self.run_dir = run_dir
        self.env = dict(
            os.environ,
            HUB_CELERY_BROKER_URL=f"redis://127.0.0.1:{self.redis_port}/0",
            HUB_CELERY_QUEUE=f"hub-test-{uuid.uuid4().hex[:8]}",
        )
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def _start(self, name: str, argv: list[str]) -> None:
        assert name not in self.processes, f"{name} is already running"
        self.logs[name] = self.run_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        log = self.logs[name].open("wb")
        # A session of its own: SIGKILL then reaches the whole process group, Celery's pool
        # children included (killed alone, the parent leaves them running, orphaned).
        self.processes[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                                env=self.env, start_new_session=True)  # fmt: skip

    def start_broker(self) -> None:
        assert REDIS is not None
        self._start("redis", [REDIS, "--port", str(self.redis_port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no"])  # fmt: skip
        _wait_port(self.redis_port)

    def start_listener(self) -> None:
        self._start("mllp", [sys.executable, "-m", "hub.cli", "mllp", "--port",
                             str(self.mllp_port)])  # fmt: skip
        _wait_port(self.mllp_port)

    def start_worker(self) -> None:
        self._start("worker", [sys.executable, "-m", "hub.cli", "worker", "--concurrency", "1",
                               "--loglevel", "warning"])  # fmt: skip

    def log_size(self, name: str) -> int:
        return self.logs[name].stat().st_size

    def wait_for_log(self, name: str, text: str, *, after: int = 0, timeout: float = 60) -> None:
        """Wait until ``text`` appears in the process's log past byte ``after``."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.logs[name].read_bytes()[after:]:
            assert time.monotonic() < deadline, f"{name} never logged {text!r}"
            time.sleep(0.1)

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def close(self) -> None:
        for name in list(self.processes):
            self.kill(name)


@pytest.fixture
def stack(database: str, run_dir: Path) -> Iterator[Stack]:
    # The stack's own worker processes must be the only ones draining the inbox (an in-process
    # sweeper left by an earlier test would process the messages these tests expect to wait).
    previous = install_dispatcher(INBOX, IdleDispatcher())
    if previous is not None:
        previous.close()
    created = Stack(run_dir)
    yield created
    created.close()
    install_dispatcher(INBOX, None)


def _wait_status(control_ids: set[str], status: MessageStatus, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = inbox_rows(lambda r: r.control_id in control_ids)
        if len(rows) == len(control_ids) and all(r.status == status.value for r in rows):
            return
        time.sleep(0.25)
    states = sorted({r.status for r in inbox_rows(lambda r: r.control_id in control_ids)})
    raise AssertionError(f"messages did not all reach {status}: {states}")


def _send_batch(stack: Stack, count: int) -> tuple[set[str], list[str]]:
    messages = [adt() for _ in range(count)]
    acks = send_messages("127.0.0.1", stack.mllp_port, [m[0].encode() for m in messages])
    assert [msa(a)[0] for a in acks] == ["AA"] * count
    return {m[1] for m in messages}, [m[2] for m in messages]


def test_listener_killed_right_after_the_ack_loses_nothing(stack: Stack) -> None:
    stack.start_broker()
    stack.start_listener()
    control_ids, mrns = _send_batch(stack, 20)
    stack.kill("mllp")  # SIGKILL straight after the last ACK: no worker has run yet
    stack.start_worker()
    _wait_status(control_ids, MessageStatus.PROCESSED)
    assert all(patient_by_mrn(m) is not None for m in mrns)


def test_worker_killed_mid_batch_loses_nothing_and_writes_once(stack: Stack) -> None:
    stack.env["HUB_INBOX_BATCH_SIZE"] = "10"  # many transactions: a kill lands inside one
    stack.start_broker()
    stack.start_listener()
    control_ids, mrns = _send_batch(stack, 150)  # all waiting: no worker has started yet
    stack.start_worker()
    deadline = time.monotonic() + 60
    while not _processed(control_ids):  # kill it as soon as it is busy with the batch
        assert time.monotonic() < deadline, "the worker processed nothing"
        time.sleep(0.02)
    stack.kill("worker")
    # Nothing else drains this inbox (the listener only publishes), so this is the state the
    # kill left: work was in flight, part done and part not.
    done_at_kill = len(_processed(control_ids))
    assert 0 < done_at_kill < len(control_ids), f"killed with {done_at_kill} of 150 done"
    stack.start_worker()
    _wait_status(control_ids, MessageStatus.PROCESSED)
    found = {mrn: patients_by_mrn(mrn) for mrn in mrns}
    lost = sorted(mrn for mrn, patients in found.items() if not patients)
    assert lost == [], f"{len(lost)} acknowledged messages never wrote their Patient"
    versions = {p["meta"]["versionId"] for patients in found.values() for p in patients}
    assert versions == {"1"} and all(len(p) == 1 for p in found.values())  # written once
    outcomes = _attempt_outcomes(control_ids)  # the killed transaction left no trace
    assert sorted(outcomes.values()) == [["processed"]] * len(control_ids)


def _processed(control_ids: set[str]) -> list[InboxRow]:
    return observed_rows(
        lambda r: r.control_id in control_ids and r.status == MessageStatus.PROCESSED.value
    )


def _attempt_outcomes(control_ids: set[str]) -> dict[str, list[str]]:
    """Each message's recorded processing attempts, by control id."""
    with session_scope() as session:
        found = session.execute(
            select(InboxRow.control_id, InboxAttemptRow.outcome)
            .join(InboxAttemptRow, InboxAttemptRow.message_id == InboxRow.id)
            .where(InboxRow.control_id.in_(control_ids))
        ).all()
    outcomes: dict[str, list[str]] = {c: [] for c in control_ids}
    for control_id, outcome in found:
        outcomes[control_id].append(outcome)
    return outcomes


def test_broker_down_messages_wait_in_the_inbox_and_flow_when_it_returns(stack: Stack) -> None:
    stack.start_broker()
    stack.start_listener()
    stack.start_worker()
    stack.kill("redis")
    control_ids, _ = _send_batch(stack, 10)  # still acknowledged: the inbox is the database
    acked_at = stack.log_size("mllp")
    # The listener's wake-up for the last of them has been tried and lost: only now does
    # "waiting" mean something (a publish to a dead broker takes seconds to fail).
    stack.wait_for_log("mllp", "hl7-inbox: broker unavailable", after=acked_at)
    assert {r.status for r in inbox_rows(lambda r: r.control_id in control_ids)} == {"received"}
    stack.start_broker()  # same port: listener and worker reconnect
    _wait_status(control_ids, MessageStatus.PROCESSED)


def test_a_task_delivered_twice_processes_each_message_once(stack: Stack) -> None:
    stack.start_broker()
    stack.start_listener()
    control_ids, mrns = _send_batch(stack, 10)
    stack.kill("mllp")
    from celery import Celery

    publisher = Celery(broker=stack.env["HUB_CELERY_BROKER_URL"])
    for _ in range(3):  # the same work announced three times (a redelivery, a sweep)
        publisher.send_task("hub.hl7v2.process_facility", args=[FACILITY],
                            queue=stack.env["HUB_CELERY_QUEUE"])  # fmt: skip
    stack.start_worker()
    _wait_status(control_ids, MessageStatus.PROCESSED)
    versions = {patient_by_mrn(m)["meta"]["versionId"] for m in mrns}  # type: ignore[index]
    assert versions == {"1"}
