"""The outbox's work queue: a destination's pending messages, delivered in order."""

from __future__ import annotations

from adapters.outbound.delivery import destinations_due, drain_destination
from adapters.outbound.tasks import DELIVER_DESTINATION
from hub.work_queues import Dispatcher, WorkQueue, install_dispatcher, shared_dispatcher

OUTBOX = WorkQueue("outbound-delivery", DELIVER_DESTINATION, drain_destination, destinations_due)


def get_dispatcher() -> Dispatcher:
    return shared_dispatcher(OUTBOX)


def install(dispatcher: Dispatcher | None) -> Dispatcher | None:
    return install_dispatcher(OUTBOX, dispatcher)
