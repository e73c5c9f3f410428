"""Handing committed messages to workers: Celery when a broker is configured, else a thread.

The inbox row is the durable record; a notification only says "facility X has work". A lost
notification (broker down, listener killed right after the commit) costs latency, not data:
the sweeper (``sweep_inbox``, every few seconds in ``hub worker``; a timer in-process) finds
every facility with due messages and notifies again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Protocol

from adapters.hl7v2.processing import drain_facility, facilities_due
from hub.db import session_scope

log = logging.getLogger("hub.hl7v2.dispatch")


class Dispatcher(Protocol):
    def notify(self, facility_codes: Iterable[str]) -> None: ...

    def close(self) -> None: ...


class CeleryDispatcher:
    """Publishes ``process_facility`` tasks from a thread of its own.

    ``notify`` only records which facilities have work, so the ACK path never waits on the
    broker; the publisher sends at most one task per facility per ``interval`` seconds (a
    worker drains everything due, so more would only be noise). If the broker is down the
    publish fails, is logged, and the sweeper republishes once it is back.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self._pending: set[str] = set()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="task-publisher", daemon=True)
        self._thread.start()

    def notify(self, facility_codes: Iterable[str]) -> None:
        with self._wake:
            self._pending.update(facility_codes)
            self._wake.notify()

    def _run(self) -> None:
        from hub.worker import process_facility_task

        while True:
            with self._wake:
                while not self._pending and not self._stopped:
                    self._wake.wait()
                if self._stopped and not self._pending:
                    return
                codes, self._pending = self._pending, set()
            try:
                for code in sorted(codes):
                    process_facility_task.apply_async(args=[code], retry=False)
            except Exception as exc:
                log.warning("broker unavailable (%s); %d facilities wait for the sweeper",
                            type(exc).__name__, len(codes))  # fmt: skip
            time.sleep(self.interval)

    def close(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=10)


class InProcessDispatcher:
    """One background thread drains facilities as they are notified (no broker: demo, tests)."""

    def __init__(self, sweep_seconds: float = 2.0) -> None:
        self.sweep_seconds = sweep_seconds
        self._dirty: set[str] = set()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="hl7-processing", daemon=True)
        self._thread.start()

    def notify(self, facility_codes: Iterable[str]) -> None:
        with self._wake:
            self._dirty.update(facility_codes)
            self._wake.notify()

    def _run(self) -> None:
        last_sweep = 0.0
        while True:
            with self._wake:
                if not self._dirty and not self._stopped:
                    self._wake.wait(timeout=self.sweep_seconds)
                if self._stopped:
                    return
                codes, self._dirty = self._dirty, set()
            try:
                if time.monotonic() - last_sweep >= self.sweep_seconds:
                    last_sweep = time.monotonic()
                    with session_scope() as session:
                        codes |= set(facilities_due(session))
                for code in sorted(codes):
                    drain_facility(code)
            except Exception:
                log.exception("in-process HL7 processing failed; the sweeper retries")

    def close(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=30)


def make_dispatcher(broker_url: str) -> Dispatcher:
    return CeleryDispatcher() if broker_url else InProcessDispatcher()


_shared: Dispatcher | None = None
_shared_lock = threading.Lock()


def get_dispatcher() -> Dispatcher:
    """The process's dispatcher (the listener and the API share it in ``hub demo``)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            from hub.settings import get_settings

            _shared = make_dispatcher(get_settings().celery_broker_url)
        return _shared


def reset_dispatcher() -> None:
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.close()
        _shared = None
