"""A running MLLP gateway for tests: its own event loop in a thread, processing in-process."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import select, update

from adapters.hl7v2.client import send_messages
from adapters.hl7v2.gateway import Hl7Gateway
from adapters.hl7v2.inbox_queue import INBOX
from adapters.hl7v2.models import InboxRow, MessageStatus
from adapters.hl7v2.parse import parse_message
from hub.db import session_scope
from hub.settings import Settings
from hub.work_queues import Dispatcher, InProcessDispatcher
from tests.integration.observer import committed


class IdleDispatcher:
    """A dispatcher that wakes no one: accepted messages stay waiting in the inbox until a test
    processes them itself (or another process's worker does)."""

    def notify(self, keys: object) -> None:
        return None

    def close(self) -> None:
        return None


class RunningGateway:
    def __init__(self, settings: Settings | None = None, dispatcher: Dispatcher | None = None):
        self.dispatcher = dispatcher or InProcessDispatcher(INBOX, sweep_seconds=0.5)
        self.gateway = Hl7Gateway(settings, dispatcher=self.dispatcher, port=0)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.gateway.start(), self._loop).result(10)
        self.port = self.gateway.port

    def send(
        self, *payloads: bytes, timeout: float = 30, ssl_context: ssl.SSLContext | None = None
    ) -> list[bytes]:
        return send_messages(
            "127.0.0.1", self.port, list(payloads), timeout=timeout, ssl_context=ssl_context
        )

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.gateway.close(), self._loop).result(30)
        self.dispatcher.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@contextmanager
def running_gateway(
    settings: Settings | None = None, dispatcher: Dispatcher | None = None
) -> Iterator[RunningGateway]:
    """A gateway on a free port; ``settings`` (e.g. TLS, source allow-list) default to the
    test environment's, ``dispatcher`` to processing in-process."""
    running = RunningGateway(settings, dispatcher)
    try:
        yield running
    finally:
        running.close()


def msa(ack: bytes) -> tuple[str, str]:
    """(MSA-1, MSA-2) of an ACK."""
    segment = parse_message(ack.decode("utf-8", errors="replace")).first("MSA")
    assert segment is not None, ack
    return segment.get(1), segment.get(2)


def inbox_rows(where: Callable[[InboxRow], bool] | None = None) -> list[InboxRow]:
    with session_scope() as session:
        rows = list(session.scalars(select(InboxRow).order_by(InboxRow.id)).all())
        session.expunge_all()
    return [r for r in rows if where is None or where(r)]


def observed_rows(where: Callable[[InboxRow], bool] | None = None) -> list[InboxRow]:
    """The inbox's committed rows, read beside the hub's writers without waiting (observer.py)."""
    rows: list[InboxRow] = committed(select(InboxRow).order_by(InboxRow.id))
    return [r for r in rows if where is None or where(r)]


def wait_processed(facility: str, control_ids: set[str], timeout: float = 60) -> list[InboxRow]:
    """Wait until none of these messages is still waiting; return their rows."""
    deadline = time.monotonic() + timeout
    while True:
        rows = inbox_rows(lambda r: r.facility_code == facility and r.control_id in control_ids)
        waiting = [r for r in rows if r.status == MessageStatus.RECEIVED.value]
        if rows and not waiting and len({r.control_id for r in rows}) == len(control_ids):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(waiting)} of {len(control_ids)} messages still waiting")
        time.sleep(0.1)


def make_dead_letter(row_id: int) -> None:
    """Mark an inbox row dead, as if its processing had failed for good."""
    with session_scope() as session:
        session.execute(
            update(InboxRow)
            .where(InboxRow.id == row_id)
            .values(status=MessageStatus.DEAD.value, error="simulated")
        )
