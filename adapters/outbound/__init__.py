"""Outbound delivery: what the hub owes facilities, kept in an outbox and delivered in order.

Producers (``producers.py`` write hooks, ``merge.py`` for the patient index) add rows to the
``outbox`` table in the transaction of the change; ``delivery.py`` sends each facility's rows
in order over HL7 v2/MLLP (``v2_messages.py``, built with hl7apy) or as FHIR R4 rest-hook
notifications (``subscriptions.py``), with retries, backoff and a dead letter; ``outbox_queue.py``
and the Celery tasks in ``tasks.py`` run delivery. Facilities' receiving addresses are FHIR
``Endpoint`` resources (``endpoints.py``).
"""

from __future__ import annotations

from adapters.outbound.delivery import (
    DeliveryReport,
    deliver_destination,
    destinations_due,
    drain_destination,
)
from adapters.outbound.merge import announce_merge
from adapters.outbound.models import Channel, OutboxRow, OutboxStatus

__all__ = [
    "Channel",
    "DeliveryReport",
    "OutboxRow",
    "OutboxStatus",
    "announce_merge",
    "deliver_destination",
    "destinations_due",
    "drain_destination",
]
