"""Outbound delivery against real receivers: an MLLP listener standing in for a facility's HL7
v2 system and a small HTTP server for FHIR rest-hooks, with the outbox in the test database.

Changes are written through the FhirStore as another facility would write them; delivery is
driven explicitly (a recording dispatcher replaces the background thread), so each step of
ordering, retry and dead-lettering can be checked.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from adapters.hl7v2.ack import Envelope, build_ack
from adapters.hl7v2.errors import Hl7ContentError
from adapters.hl7v2.listener import MllpServer, Peer
from adapters.hl7v2.parse import parse_message
from adapters.outbound import outbox_queue
from adapters.outbound.delivery import deliver_destination, destinations_due
from adapters.outbound.models import Channel, OutboxRow, OutboxStatus
from adapters.outbound.v2_messages import control_id_for
from hub.auth.actor import SYSTEM_ACTOR, Actor
from hub.auth.roles import Role
from hub.db import session_scope
from hub.errors import Forbidden
from hub.fhir.store import FhirStore
from hub.fhir.systems import facility_patient_system
from hub.mpi.models import PersonRow, SourceRow
from hub.mpi.stewardship.link_changes import merge_persons
from hub.security.fields import get_cipher
from hub.settings import Settings, get_settings
from hub.work_queues import Dispatcher, InProcessDispatcher
from tests.integration.observer import committed

CONNECTION_SYSTEM = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
FAMILIES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"


class Recorder:
    """Stands in for the dispatcher: remembers which destinations were woken."""

    def __init__(self) -> None:
        self.woken: list[set[str]] = []

    def notify(self, destinations: Any) -> None:
        self.woken.append(set(destinations))

    def close(self) -> None:
        return None


@pytest.fixture(autouse=True)
def recorder(database: str) -> Iterator[Recorder]:
    recording = Recorder()
    previous = outbox_queue.install(recording)
    yield recording
    outbox_queue.install(previous)


class Receiver:
    """A facility's HL7 v2 system: an MLLP listener that records messages and answers ``mode``."""

    def __init__(self, mode: str = "AA", port: int = 0) -> None:
        self.mode = mode
        self.received: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.server = MllpServer(self._handle, host="127.0.0.1", port=port)
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(10)
        self.port = self.server.port

    async def _handle(self, payload: bytes, peer: Peer) -> bytes:
        text = payload.decode("utf-8")
        self.received.append(text)
        envelope = Envelope.of(parse_message(text))
        if self.mode == "AA":
            return build_ack(envelope, "AA").encode()
        error = Hl7ContentError("预约时段不存在 (unknown slot)", location="SCH-1")
        return build_ack(envelope, "AE", error).encode()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(mode: str = "AA", port: int = 0) -> Receiver:
        started.append(Receiver(mode, port))
        return started[-1]

    yield start
    for running in started:
        running.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _code() -> str:
    return f"T{uuid.uuid4().hex[:8].upper()}"


def _actor(facility: str) -> Actor:
    return Actor.build(client_id=f"test-{facility}", facility=facility,
                       role=Role.facility_system, scope="system/*.cruds")  # fmt: skip


def write(actor: Actor, *resources: dict[str, Any]) -> list[dict[str, Any]]:
    """Create or update resources in one transaction, as ``actor``."""
    written = []
    with session_scope() as session:
        store = FhirStore(session, actor, get_cipher(), get_settings().fhir_base_url)
        for body in resources:
            if body.get("id"):
                stored, _ = store.update(body["resourceType"], body["id"], body)
            else:
                stored = store.create(body["resourceType"], body)
            written.append(stored.as_dict())
    return written


def facility(code: str, *, mllp_port: int | None = None, fhir_url: str | None = None) -> None:
    """Organization + Location for ``code`` and its receiving endpoints, as the operator."""
    resources: list[dict[str, Any]] = [
        {"resourceType": "Organization", "id": code, "active": True, "name": f"{code} 医院"},
        {"resourceType": "Location", "id": f"{code}-loc", "status": "active",
         "name": f"{code} 门诊楼", "managingOrganization": {"reference": f"Organization/{code}"}},
    ]  # fmt: skip
    endpoints = []
    if mllp_port is not None:
        endpoints.append(("hl7v2-mllp", f"mllp://127.0.0.1:{mllp_port}"))
    if fhir_url is not None:
        endpoints.append(("hl7-fhir-rest", fhir_url))
    for n, (connection, address) in enumerate(endpoints):
        resources.append({
            "resourceType": "Endpoint", "id": f"{code}-ep{n}", "status": "active",
            "connectionType": {"system": CONNECTION_SYSTEM, "code": connection},
            "managingOrganization": {"reference": f"Organization/{code}"},
            "payloadType": [{"text": "any"}], "address": address,
        })  # fmt: skip
    write(SYSTEM_ACTOR, *resources)


def patient(code: str, family: str | None = None) -> dict[str, Any]:
    rng = random.Random(uuid.uuid4().int)
    number = f"MRN-{uuid.uuid4().hex[:8]}"
    return {
        "resourceType": "Patient",
        "identifier": [{"system": facility_patient_system(code), "value": number}],
        "name": [{"family": family or rng.choice(FAMILIES),
                  "given": ["".join(rng.choice(FAMILIES) for _ in range(2))]}],
        "gender": rng.choice(["male", "female"]),
        "birthDate": f"{rng.randint(1940, 2000)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
    }  # fmt: skip


def appointment(patient_id: str, location_code: str, status: str = "booked") -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": status,
        "start": "2025-03-05T09:00:00+08:00",
        "end": "2025-03-05T09:30:00+08:00",
        "participant": [
            {"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"},
            {"actor": {"reference": f"Location/{location_code}-loc", "display": "门诊楼"},
             "status": "accepted"},
        ],
    }  # fmt: skip


def rows(destination: str) -> list[OutboxRow]:
    with session_scope() as session:
        found = list(
            session.scalars(
                select(OutboxRow).where(OutboxRow.destination == destination).order_by(OutboxRow.id)
            )
        )
        session.expunge_all()
    return found


def settings(**changes: Any) -> Settings:
    return get_settings().model_copy(update=changes)


def test_appointment_changes_reach_the_facility_in_order_exactly_once(
    receiver: Callable[..., Receiver], recorder: Recorder
) -> None:
    writer, target = _code(), _code()
    facility(writer)
    listener = receiver("AA")
    facility(target, mllp_port=listener.port)
    someone = patient(writer, family="欧阳")
    [pat] = write(_actor(writer), someone)
    [booked] = write(_actor(writer), appointment(pat["id"], target))
    changed = dict(booked, end="2025-03-05T10:00:00+08:00")
    changed.pop("meta")
    [changed] = write(_actor(writer), changed)
    cancelled = dict(changed, status="cancelled")
    write(_actor(writer), cancelled)
    assert {target} in recorder.woken

    queued = rows(target)
    assert [r.event for r in queued] == ["SIU^S12", "SIU^S13", "SIU^S15"]  # S13: new time
    assert all(r.status == OutboxStatus.PENDING and r.channel == Channel.HL7V2 for r in queued)
    assert rows(writer) == []  # the writer is never told about its own change

    report = deliver_destination(target)
    assert (report.delivered, report.dead, report.retrying) == (3, 0, 0)
    again = deliver_destination(target)
    assert again.delivered == 0  # delivered rows are never sent again

    messages = [parse_message(text) for text in listener.received]
    assert [m.message_type for m in messages] == ["SIU^S12", "SIU^S13", "SIU^S15"]
    assert [m.control_id for m in messages] == [control_id_for(r.idempotency_key) for r in queued]
    pid = messages[0].first("PID")
    assert pid is not None and pid.get(5, 1) == "欧阳"
    assert pid.get(5, 2) == someone["name"][0]["given"][0]
    assert someone["identifier"][0]["value"] in pid.field(3)
    sch = messages[2].first("SCH")
    assert sch is not None and sch.get(1, 1) == booked["id"] and sch.get(25) == "Cancelled"
    done = rows(target)
    assert all(r.status == OutboxStatus.DELIVERED and r.ack_code == "AA" for r in done)
    assert all(r.attempts == 1 and r.delivered_at is not None for r in done)


def test_same_version_never_enqueues_twice() -> None:
    writer, target = _code(), _code()
    facility(writer)
    facility(target, mllp_port=_free_port())
    [pat] = write(_actor(writer), patient(writer))
    [booked] = write(_actor(writer), appointment(pat["id"], target))
    from adapters.outbound.producers import appointment_changed
    from hub.fhir.write_hooks import WriteKind

    with session_scope() as session:  # the hook runs again for the same stored version
        store = FhirStore(session, _actor(writer), get_cipher())
        appointment_changed(store, WriteKind.CREATE, "Appointment", booked)
    assert [r.event for r in rows(target)] == ["SIU^S12"]


def test_a_facility_change_is_not_echoed_back() -> None:
    target = _code()
    facility(target, mllp_port=_free_port())
    [pat] = write(_actor(target), patient(target))
    write(_actor(target), appointment(pat["id"], target))
    assert rows(target) == []


def test_an_error_ack_dead_letters_without_retry(receiver: Callable[..., Receiver]) -> None:
    writer, target = _code(), _code()
    facility(writer)
    listener = receiver("AE")
    facility(target, mllp_port=listener.port)
    [pat] = write(_actor(writer), patient(writer))
    write(_actor(writer), appointment(pat["id"], target))

    report = deliver_destination(target)
    assert (report.delivered, report.dead, report.retrying) == (0, 1, 0)
    [row] = rows(target)
    assert row.status == OutboxStatus.DEAD and row.ack_code == "AE" and row.attempts == 1
    assert row.last_error is not None and "unknown slot" in row.last_error
    assert deliver_destination(target).dead == 0 and len(listener.received) == 1


def test_a_receiver_that_is_down_is_retried_with_backoff(
    receiver: Callable[..., Receiver],
) -> None:
    writer, target, port = _code(), _code(), _free_port()
    facility(writer)
    facility(target, mllp_port=port)
    [pat] = write(_actor(writer), patient(writer))
    first, second = write(_actor(writer), appointment(pat["id"], target),
                          appointment(pat["id"], target))  # fmt: skip
    # A long base delay: "not due yet" holds however slow the machine; the test brings each
    # retry forward itself instead of sleeping until it is due.
    base = 60.0
    slow = settings(outbox_retry_base_seconds=base, outbound_timeout_seconds=2.0)

    tried_at = datetime.now(UTC)
    down = deliver_destination(target, settings=slow)
    assert (down.delivered, down.retrying) == (0, 1)
    head, behind = rows(target)
    assert head.attempts == 1 and head.status == OutboxStatus.PENDING
    assert head.last_error is not None and "MllpConnectionError" in head.last_error
    assert behind.attempts == 0  # held back behind the head: order is kept
    _assert_backoff(target, head, tried_at, timedelta(seconds=base))
    assert deliver_destination(target, settings=slow).retrying == 0  # not due yet
    assert rows(target)[0].attempts == 1

    _bring_forward(head.id)
    tried_at = datetime.now(UTC)
    assert deliver_destination(target, settings=slow).retrying == 1  # second attempt, still down
    head = rows(target)[0]
    assert head.attempts == 2
    _assert_backoff(target, head, tried_at, timedelta(seconds=base * 2))  # doubled

    listener = receiver("AA", port=port)
    _bring_forward(head.id)
    up = deliver_destination(target, settings=slow)
    assert up.delivered == 2
    sent = [parse_message(text) for text in listener.received]
    assert [m.first("SCH").get(1, 1) for m in sent] == [first["id"], second["id"]]  # type: ignore[union-attr]
    assert [r.attempts for r in rows(target)] == [3, 1]


def _assert_backoff(
    destination: str, head: OutboxRow, tried_at: datetime, delay: timedelta
) -> None:
    """The head's next attempt is ``delay`` after the attempt that failed (made between
    ``tried_at`` and now), and the sweeper finds the destination due then, not a moment before."""
    due_at = head.next_attempt_at
    assert due_at is not None and tried_at + delay <= due_at <= datetime.now(UTC) + delay
    with session_scope() as session:
        early = due_at - timedelta(milliseconds=1)
        assert destination not in destinations_due(session, now=early)
        assert destination in destinations_due(session, now=due_at)


def _bring_forward(row_id: int) -> None:
    """Make a waiting retry due now, as the clock would once its delay had passed."""
    with session_scope() as session:
        session.get_one(OutboxRow, row_id).next_attempt_at = datetime.now(UTC)


def test_out_of_attempts_is_dead() -> None:
    writer, target = _code(), _code()
    facility(writer)
    facility(target, mllp_port=_free_port())
    [pat] = write(_actor(writer), patient(writer))
    write(_actor(writer), appointment(pat["id"], target))
    once = settings(outbox_max_attempts=1, outbound_timeout_seconds=2.0)
    assert deliver_destination(target, settings=once).dead == 1
    [row] = rows(target)
    assert row.status == OutboxStatus.DEAD and "after 1 attempts" in (row.last_error or "")


class Hook:
    """A facility's FHIR rest-hook receiver (http.server in a thread)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                hook.requests.append((self.path, dict(self.headers), self.rfile.read(length)))
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    running = Hook()
    yield running
    running.close()


def test_rest_hook_subscription_is_notified(hook: Hook) -> None:
    writer, subscriber = _code(), _code()
    base = f"http://127.0.0.1:{hook.port}/{subscriber}"
    facility(writer)
    facility(subscriber, fhir_url=base)
    subscription = {
        "resourceType": "Subscription", "status": "active", "reason": "排班同步",
        "criteria": f"Appointment?status=booked&location=Location/{subscriber}-loc",
        "channel": {"type": "rest-hook", "endpoint": f"{base}/notify",
                    "payload": "application/fhir+json", "header": ["Authorization: Bearer s3"]},
    }  # fmt: skip
    quiet = dict(subscription, criteria="Appointment?status=cancelled")
    elsewhere = dict(subscription["channel"], endpoint="http://elsewhere.example/x")
    unregistered = dict(subscription, channel=elsewhere)
    [sub, _] = write(_actor(subscriber), subscription, quiet)
    with pytest.raises(Forbidden):  # an address no operator registered for it: refused
        write(_actor(subscriber), unregistered)
    [pat] = write(_actor(writer), patient(writer, family="司马"))
    [booked] = write(_actor(writer), appointment(pat["id"], subscriber))

    [row] = rows(subscriber)
    assert row.channel == Channel.FHIR_REST_HOOK and row.event == f"Subscription/{sub['id']}"
    assert deliver_destination(subscriber).delivered == 1
    [(path, headers, body)] = hook.requests
    assert path == f"/{subscriber}/notify"
    assert headers["Authorization"] == "Bearer s3"
    assert headers["Content-Type"] == "application/fhir+json"
    assert headers["X-Hub-Notification-Id"] == control_id_for(row.idempotency_key)
    sent = json.loads(body)
    assert sent["resourceType"] == "Appointment" and sent["id"] == booked["id"]
    assert rows(subscriber)[0].ack_code == "200"


def test_rest_hook_refusal_and_server_error(hook: Hook) -> None:
    writer, subscriber = _code(), _code()
    base = f"http://127.0.0.1:{hook.port}/{subscriber}"
    facility(writer)
    facility(subscriber, fhir_url=base)
    write(_actor(subscriber), {
        "resourceType": "Subscription", "status": "active", "reason": "r",
        "criteria": f"Appointment?location={subscriber}-loc",
        "channel": {"type": "rest-hook", "endpoint": base},
    })  # fmt: skip
    [pat] = write(_actor(writer), patient(writer))
    write(_actor(writer), appointment(pat["id"], subscriber))
    hook.status = 503
    assert deliver_destination(subscriber).retrying == 1
    assert hook.requests[0][2] == b""  # no channel.payload: an empty notification
    hook.status = 404
    time.sleep(0.05)
    fast = settings(outbox_retry_base_seconds=0.01)
    with session_scope() as session:  # make the retry due now
        session.get_one(OutboxRow, rows(subscriber)[0].id).next_attempt_at = datetime.now(UTC)
    assert deliver_destination(subscriber, settings=fast).dead == 1
    [row] = rows(subscriber)
    assert row.status == OutboxStatus.DEAD and row.last_error == "HTTP 404 Not Found"


def test_a_merge_sends_adt_a40_to_each_facility(receiver: Callable[..., Receiver]) -> None:
    first, second = _code(), _code()
    listener = receiver("AA")
    facility(first, mllp_port=listener.port)
    facility(second)
    [one] = write(_actor(first), patient(first, family="诸葛"))
    [two] = write(_actor(second), patient(second, family="端木"))
    with session_scope() as session:
        eids = {
            pid: eid
            for pid, eid in session.execute(
                select(SourceRow.patient_id, PersonRow.enterprise_id)
                .join(PersonRow, PersonRow.id == SourceRow.person_id)
                .where(SourceRow.patient_id.in_([one["id"], two["id"]]))
            )
        }
    with session_scope() as session:
        result = merge_persons(session, get_cipher(), SYSTEM_ACTOR, from_eid=eids[one["id"]],
                               into_eid=eids[two["id"]], reason="same person, test")  # fmt: skip
    [row] = rows(first)
    assert row.event == "ADT^A40" and row.source == f"merge/{result.merge_id}"
    assert rows(second) == []  # no HL7 v2 endpoint
    assert deliver_destination(first).delivered == 1
    [message] = [parse_message(text) for text in listener.received]
    pid, mrg = message.first("PID"), message.first("MRG")
    assert pid is not None and mrg is not None
    assert pid.get(5, 1) == "端木"
    assert f"{eids[two['id']]}^^^YICHANG-HUB^PN" in pid.repetitions(3)
    assert mrg.repetitions(1) == [
        f"{one['identifier'][0]['value']}^^^{first}^MR",
        f"{eids[one['id']]}^^^YICHANG-HUB^PN",
    ]


class CommitProbe:
    """Wraps a dispatcher: at each notification, counts from another connection the committed
    outbox rows of each destination named, then passes the notification on."""

    def __init__(self, inner: Dispatcher) -> None:
        self.inner = inner
        self.seen: list[dict[str, int]] = []

    def notify(self, destinations: Any) -> None:
        keys = set(destinations)
        self.seen.append({k: len(committed(select(OutboxRow).where(OutboxRow.destination == k)))
                          for k in keys})  # fmt: skip
        self.inner.notify(keys)

    def close(self) -> None:
        self.inner.close()


def test_the_in_process_dispatcher_delivers_after_commit(
    receiver: Callable[..., Receiver],
) -> None:
    writer, target = _code(), _code()
    listener = receiver("AA")
    facility(writer)
    facility(target, mllp_port=listener.port)
    [pat] = write(_actor(writer), patient(writer))
    # No sweep (it would rescue a wake-up sent too early): only the notification delivers.
    probe = CommitProbe(InProcessDispatcher(outbox_queue.OUTBOX, sweep_seconds=1e9))
    outbox_queue.install(probe)  # the recorder fixture puts its predecessor back
    try:
        write(_actor(writer), appointment(pat["id"], target))
        deadline = time.monotonic() + 20
        while not listener.received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        probe.close()
    assert probe.seen == [{target: 1}]  # notified once, its row already committed
    assert [parse_message(t).message_type for t in listener.received] == ["SIU^S12"]
    assert [r.status for r in rows(target)] == [OutboxStatus.DELIVERED]
