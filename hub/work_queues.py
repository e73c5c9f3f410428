"""Waking workers after a commit: a Celery task when a broker is configured, else a thread.

The hub's background work is keyed queues of durable rows: the HL7 inbox per sending facility,
the outbox per destination. The row is the record; a wake-up only says "key X has work". A lost
wake-up (broker down, process killed right after its commit) costs latency, not data: each
queue's sweeper (a beat task in ``hub worker``; a timer in the in-process thread) finds every
key with due rows and wakes it again.

    CeleryDispatcher     publishes ``queue.task_name`` per key from a thread of its own, so
                         the caller (an ACK path, a commit hook) never waits on the broker
    InProcessDispatcher  one thread drains keys as they are notified (demo, tests)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from hub.db import session_scope
from hub.settings import get_settings
from hub.worker import celery_app

log = logging.getLogger("hub.work_queues")


@dataclass(frozen=True)
class WorkQueue:
    name: str  # for thread names and logs
    task_name: str  # the Celery task taking one key
    drain: Callable[[str], Any]  # process everything due for one key
    due: Callable[[Session], list[str]]  # keys with due rows (the sweeper)
    # In-process: seconds to wait after a round before the next, so one round takes the work
    # of many commits (the audit chain: one head lock per batch, not per request).
    linger: float = 0.0
    # Whether ``drain``'s result says the key's turn ended with work left (it goes again, after
    # the other keys); by default a drain finishes its key.
    unfinished: Callable[[Any], bool] = lambda _result: False


class Dispatcher(Protocol):
    def notify(self, keys: Iterable[str]) -> None: ...

    def close(self) -> None: ...


class CeleryDispatcher:
    """At most one task per key per ``interval`` seconds: a worker drains all that is due.
    Keys notified meanwhile wait for the next publish, never dropped. Every publish is a task a
    worker runs, even when an earlier one already took the work: at 0.05 s a busy stack's
    queue held 16,000 to 19,000 such tasks after a load test (bench/stack_load.py)."""

    def __init__(self, queue: WorkQueue, interval: float = 0.5) -> None:
        self.queue = queue
        self.interval = interval
        self._pending: set[str] = set()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(
            target=self._run, name=f"{queue.name}-publisher", daemon=True
        )
        self._thread.start()

    def notify(self, keys: Iterable[str]) -> None:
        with self._wake:
            self._pending.update(keys)
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stopped:
                    self._wake.wait()
                if self._stopped and not self._pending:
                    return
                keys, self._pending = self._pending, set()
            try:
                for key in sorted(keys):
                    celery_app.send_task(self.queue.task_name, args=[key], retry=False)
            except Exception as exc:
                log.warning("%s: broker unavailable (%s); %d keys wait for the sweeper",
                            self.queue.name, type(exc).__name__, len(keys))  # fmt: skip
            time.sleep(self.interval)

    def close(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=10)


class InProcessDispatcher:
    def __init__(self, queue: WorkQueue, sweep_seconds: float = 2.0) -> None:
        self.queue = queue
        self.sweep_seconds = sweep_seconds
        self._dirty: set[str] = set()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=queue.name, daemon=True)
        self._thread.start()

    def notify(self, keys: Iterable[str]) -> None:
        with self._wake:
            self._dirty.update(keys)
            self._wake.notify()

    def _run(self) -> None:
        last_sweep = 0.0
        while True:
            with self._wake:
                if not self._dirty and not self._stopped:
                    self._wake.wait(timeout=self.sweep_seconds)
                if self._stopped:
                    return
                keys, self._dirty = self._dirty, set()
            try:
                if time.monotonic() - last_sweep >= self.sweep_seconds:
                    last_sweep = time.monotonic()
                    with session_scope() as session:
                        keys |= set(self.queue.due(session))
                for key in sorted(keys):
                    if self.queue.unfinished(self.queue.drain(key)):
                        self.notify([key])  # next round, after the keys waiting now
                if keys and self.queue.linger:
                    time.sleep(self.queue.linger)
            except OperationalError as exc:  # the database is unreachable: one line, not a trace
                log.warning("%s: database unavailable (%s); the sweeper retries",
                            self.queue.name, str(exc.orig or exc).splitlines()[0])  # fmt: skip
            except Exception:
                log.exception("%s: in-process work failed; the sweeper retries", self.queue.name)

    def close(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=30)


def make_dispatcher(queue: WorkQueue, broker_url: str, sweep_seconds: float = 2.0) -> Dispatcher:
    return CeleryDispatcher(queue) if broker_url else InProcessDispatcher(queue, sweep_seconds)


_shared: dict[str, Dispatcher] = {}
_shared_lock = threading.Lock()


def shared_dispatcher(queue: WorkQueue) -> Dispatcher:
    """The process's dispatcher for ``queue``, made on first use from the settings."""
    with _shared_lock:
        if queue.name not in _shared:
            settings = get_settings()
            _shared[queue.name] = make_dispatcher(
                queue, settings.celery_broker_url, settings.work_sweep_seconds
            )
        return _shared[queue.name]


def install_dispatcher(queue: WorkQueue, dispatcher: Dispatcher | None) -> Dispatcher | None:
    """Replace the process's dispatcher of ``queue`` (tests, an embedding app); returns the
    previous one, which the caller closes if it should stop. None: the next use makes one."""
    with _shared_lock:
        previous = _shared.pop(queue.name, None)
        if dispatcher is not None:
            _shared[queue.name] = dispatcher
        return previous


_WAKE = "work_queues.wake"  # session.info: queue name -> (queue, keys) to wake after the commit


def wake_after_commit(session: Session, queue: WorkQueue, keys: Iterable[str]) -> None:
    """Wake ``queue`` for ``keys`` once the session's outermost transaction commits; a rollback
    forgets them (their rows are gone too). A lost wake-up costs latency: the sweeper finds it."""
    pending: dict[str, tuple[WorkQueue, set[str]]] = session.info.setdefault(_WAKE, {})
    pending.setdefault(queue.name, (queue, set()))[1].update(keys)


@event.listens_for(Session, "after_commit")
def _wake_committed(session: Session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT released: the real commit is yet to come
        return
    pending: dict[str, tuple[WorkQueue, set[str]]] = session.info.pop(_WAKE, None) or {}
    for queue, keys in pending.values():
        try:
            shared_dispatcher(queue).notify(keys)
        except Exception:  # the rows are committed; the sweeper will find them
            log.warning("could not wake %s; %d keys wait for the sweeper", queue.name, len(keys))


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_WAKE, None)
