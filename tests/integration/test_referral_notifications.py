"""A referral's moves reach the other party through the outbound paths, and a failing endpoint
is retried, then dead-lettered, never swallowed.

The referring facility (TC001) subscribes (rest-hook) to its patient's referral Task; the
hospital (H001) accepts it. Writes go through the FhirStore in this process as the two
facilities' doctors, and delivery is driven explicitly (a dispatcher that wakes no one), as in
``test_outbound_delivery``, so each attempt can be checked.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters.outbound import outbox_queue
from adapters.outbound.delivery import deliver_destination
from adapters.outbound.models import Channel, OutboxRow, OutboxStatus
from hub.auth.actor import SYSTEM_ACTOR, Actor
from hub.auth.purpose import PurposeOfUse
from hub.auth.roles import Role
from hub.db import session_scope
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from tests.integration.hl7_harness import IdleDispatcher
from tests.integration.test_outbound_delivery import (
    CONNECTION_SYSTEM,
    Hook,
    rows,
    settings,
    write,
)
from tests.integration.test_referral_loop import CATEGORY, REASON, SOURCE, TARGET, Person


@pytest.fixture(autouse=True)
def no_background_delivery(database: str) -> Iterator[None]:
    previous = outbox_queue.install(IdleDispatcher())
    yield
    outbox_queue.install(previous)


@pytest.fixture
def hook() -> Iterator[Hook]:
    running = Hook(status=503)
    yield running
    running.close()


def _doctor(facility: str) -> Actor:
    return Actor.build(client_id=f"test-doctor-{facility}", facility=facility,
                       role=Role.practitioner, scope="user/*.cruds",
                       purpose_of_use=PurposeOfUse.TREAT)  # fmt: skip


def _subscribe(hook: Hook, patient: str) -> tuple[str, str]:
    """TC001's rest-hook on its patient's referral Tasks: (subscription id, endpoint address)."""
    base = f"http://127.0.0.1:{hook.port}/{uuid.uuid4().hex[:8]}"
    write(SYSTEM_ACTOR, {
        "resourceType": "Endpoint", "id": f"{SOURCE}-hook-{uuid.uuid4().hex[:8]}",
        "status": "active", "address": base, "payloadType": [{"text": "any"}],
        "connectionType": {"system": CONNECTION_SYSTEM, "code": "hl7-fhir-rest"},
        "managingOrganization": {"reference": f"Organization/{SOURCE}"},
    })  # fmt: skip
    [subscription] = write(_doctor(SOURCE), {
        "resourceType": "Subscription", "status": "active", "reason": "转诊进展",
        "criteria": f"Task?patient=Patient/{patient}",
        "channel": {"type": "rest-hook", "endpoint": f"{base}/notify",
                    "payload": "application/fhir+json"},
    })  # fmt: skip
    return str(subscription["id"]), base


def _mine(subscription: str) -> list[OutboxRow]:
    return [
        r
        for r in rows(SOURCE)
        if r.channel == Channel.FHIR_REST_HOOK and r.event == f"Subscription/{subscription}"
    ]


def test_an_accept_reaches_the_referring_side_and_a_failing_endpoint_is_dead_lettered(
    hook: Hook,
) -> None:
    [patient] = write(_doctor(SOURCE), Person().patient(SOURCE))
    subscription, _ = _subscribe(hook, patient["id"])
    [request] = write(_doctor(SOURCE), {
        "resourceType": "ServiceRequest", "status": "active", "intent": "order",
        "category": [CATEGORY], "priority": "routine", "reasonCode": REASON,
        "subject": {"reference": f"Patient/{patient['id']}"},
        "requester": {"reference": f"Organization/{SOURCE}"},
        "performer": [{"reference": f"HealthcareService/{TARGET}-cardiology"}],
    })  # fmt: skip
    [created] = _mine(subscription)  # the Task the hub created matched the subscription
    task_id = created.source.split("/")[1]
    assert created.source == f"Task/{task_id}/_history/1"
    with session_scope() as session:
        task = FhirStore(session, _doctor(TARGET), get_cipher()).read("Task", task_id).as_dict()
    assert task["focus"] == {"reference": f"ServiceRequest/{request['id']}"}
    write(_doctor(TARGET), {**task, "status": "accepted"})
    queued = _mine(subscription)
    assert [r.source for r in queued][1:] == [f"Task/{task_id}/_history/2"]  # the accept

    fast = settings(outbox_retry_base_seconds=0.01, outbox_max_attempts=2)
    first = deliver_destination(SOURCE, settings=fast)
    assert first.retrying >= 1 and first.delivered == 0  # 503: kept, to be tried again
    head = _mine(subscription)[0]
    assert head.status == OutboxStatus.PENDING and head.attempts == 1
    assert head.last_error is not None and "503" in head.last_error
    for _ in range(3):
        with session_scope() as session:  # the retry is due now
            for row in _mine(subscription):
                if row.status == OutboxStatus.PENDING:
                    session.get_one(OutboxRow, row.id).next_attempt_at = datetime.now(UTC)
        deliver_destination(SOURCE, settings=fast)
    statuses = [(r.status, r.attempts) for r in _mine(subscription)]
    assert statuses == [(OutboxStatus.DEAD, 2), (OutboxStatus.DEAD, 2)], statuses
    assert len(hook.requests) == 4  # every attempt reached the endpoint: none swallowed
