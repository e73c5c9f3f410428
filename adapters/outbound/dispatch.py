"""Waking delivery after a commit: a Celery task when a broker is configured, else a thread.

Mirrors ``adapters/hl7v2/dispatch.py`` for the other direction. The outbox row is the durable
record; a wake-up only says "facility X has messages". A lost one (broker down, process killed
after the commit) costs latency, not messages: the sweeper (``hub.outbound.sweep_outbox`` on
``hub worker``'s beat; a timer in the in-process thread) finds every destination with due rows,
including rows waiting for their retry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Protocol

from adapters.outbound.delivery import destinations_due, drain_destination
from hub.db import session_scope

log = logging.getLogger("hub.outbound.dispatch")


class Dispatcher(Protocol):
    def notify(self, destinations: Iterable[str]) -> None: ...

    def close(self) -> None: ...


class CeleryDispatcher:
    """Publishes one ``hub.outbound.deliver_destination`` task per destination."""

    def notify(self, destinations: Iterable[str]) -> None:
        from hub.worker import deliver_destination_task

        for code in sorted(set(destinations)):
            deliver_destination_task.apply_async(args=[code], retry=False)

    def close(self) -> None:
        return None


class InProcessDispatcher:
    """One background thread delivers destinations as they are notified (no broker: demo)."""

    def __init__(self, sweep_seconds: float = 2.0) -> None:
        self.sweep_seconds = sweep_seconds
        self._dirty: set[str] = set()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="outbound-delivery", daemon=True)
        self._thread.start()

    def notify(self, destinations: Iterable[str]) -> None:
        with self._wake:
            self._dirty.update(destinations)
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
                        codes |= set(destinations_due(session))
                for code in sorted(codes):
                    drain_destination(code)
            except Exception:
                log.exception("in-process outbound delivery failed; the sweeper retries")

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
    """The process's dispatcher, made on first use from the settings."""
    global _shared
    with _shared_lock:
        if _shared is None:
            from hub.settings import get_settings

            _shared = make_dispatcher(get_settings().celery_broker_url)
        return _shared


def install_dispatcher(dispatcher: Dispatcher | None) -> Dispatcher | None:
    """Replace the process's dispatcher (tests; an embedding app); returns the previous one,
    which the caller closes if it should stop. None: the next wake-up makes a new one."""
    global _shared
    with _shared_lock:
        previous, _shared = _shared, dispatcher
        return previous
