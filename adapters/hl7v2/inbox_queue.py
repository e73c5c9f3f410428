"""The inbox's work queue: a facility's waiting messages, drained in order by one worker."""

from __future__ import annotations

from adapters.hl7v2.processing import drain_facility, facilities_due
from adapters.hl7v2.tasks import PROCESS_FACILITY
from hub.work_queues import Dispatcher, WorkQueue, shared_dispatcher

INBOX = WorkQueue(
    "hl7-inbox", PROCESS_FACILITY, drain_facility, facilities_due,
    unfinished=lambda progress: bool(progress.more),
)  # fmt: skip


def get_dispatcher() -> Dispatcher:
    return shared_dispatcher(INBOX)
