"""The fault run's load: FHIR creates over nginx's HTTPS and HL7 v2 over MLLP, every attempt
recorded, every acknowledged item kept with what it was acknowledged as.

- HTTP (one facility, ``--http`` clients): a conditional create of a Patient (``If-None-Exist``
  on its identifier), then a conditional create of an Observation for it; a failed attempt is
  sent again (the same identifier, so the retry of a create that did commit answers 200 with the
  first one) every half second until it succeeds or the load's deadline.
- MLLP (one persistent connection per facility): ADT^A04 registering a new MRN, then ORU^R01 with
  one OBR (filler order number) and two OBX for it; anything but AA/CA, or a broken connection or
  timeout, and the same message (the same MSH-10) is sent again on a fresh connection: the hub
  answers a repeat with the first ACK and stores it once.
- The outbound receiver (:class:`Receiver`): a facility's rest-hook endpoint that answers 500
  while told to fail, 200 otherwise, counting each notification it accepted.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from fault_check import Attempt

from adapters.hl7v2.client import MllpClient, MllpError
from adapters.outbound.senders import OutcomeKind, interpret_ack
from hub.fhir.systems import facility_identifier_system

HTTP_FACILITY = "H001"
MLLP_FACILITIES = [("H001", "YC_H001"), ("H002", "YC_H002"), ("H003", "YC_H003")]
HEART_RATE = "http://loinc.org|8867-4"
RETRY_PAUSE = 0.5


@dataclass
class Recorder:
    """Every attempt, and each acknowledged item with the id it was given (seconds from t0)."""

    t0: float = field(default_factory=time.monotonic)
    attempts: list[Attempt] = field(default_factory=list)
    sent: dict[str, set[str]] = field(default_factory=dict)  # family -> items tried
    acked: dict[str, dict[str, str | None]] = field(default_factory=dict)  # family -> item -> id

    def now(self) -> float:
        return time.monotonic() - self.t0

    def note(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)

    def ack(self, family: str, item: str, given: str | None) -> None:
        self.acked.setdefault(family, {})[item] = given

    def tried(self, family: str, item: str) -> None:
        self.sent.setdefault(family, set()).add(item)


Try = Callable[[], Awaitable[tuple[bool, str, Any]]]  # -> ok, detail, value


async def until_ok(rec: Recorder, channel: str, key: str, attempt: Try, deadline: float) -> Any:
    """Run ``attempt`` until it succeeds (its value) or the deadline passes (None)."""
    while True:
        started = rec.now()
        try:
            ok, detail, value = await attempt()
        except (httpx.HTTPError, MllpError, OSError) as exc:
            ok, detail, value = False, type(exc).__name__, None
        rec.note(Attempt(channel, key, started, rec.now(), ok, detail))
        if ok:
            return value
        if rec.now() > deadline:
            return None
        await asyncio.sleep(RETRY_PAUSE)


@dataclass
class Load:
    rec: Recorder
    tag: str  # makes every identifier and control id of the run unique
    stop_new: asyncio.Event = field(default_factory=asyncio.Event)
    deadline: float = 0.0  # run-clock second after which failed items are given up
    rates: dict[str, float] = field(default_factory=dict)  # channel -> new items per second
    _counter: int = 0
    _next_slot: dict[str, float] = field(default_factory=dict)

    def next_number(self) -> int:
        self._counter += 1
        return self._counter

    async def pace(self, channel: str) -> None:
        """Wait for the channel's next slot: new items at ``rates[channel]`` per second in all
        (retries are not paced), so the load stays below what the stack drains."""
        rate = self.rates.get(channel)
        if not rate:
            return
        now = self.rec.now()
        slot = max(now, self._next_slot.get(channel, 0.0))
        self._next_slot[channel] = slot + 1 / rate
        await asyncio.sleep(slot - now)


def patient_system() -> str:
    return facility_identifier_system(HTTP_FACILITY, "patient")


def observation_system() -> str:
    return facility_identifier_system(HTTP_FACILITY, "observation")


async def http_client_loop(load: Load, web: httpx.AsyncClient, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    rec = load.rec
    while not load.stop_new.is_set():
        await load.pace("http")
        value = f"{load.tag}-P{load.next_number()}"
        patient = {
            "resourceType": "Patient",
            "identifier": [{"system": patient_system(), "value": value}],
            "gender": "female",
            "birthDate": "1970-03-04",
            "name": [{"family": "测", "given": ["试"]}],
        }
        condition = {"If-None-Exist": f"identifier={patient_system()}|{value}"}
        rec.tried("Patient (HTTP)", value)
        patient_id = await until_ok(
            rec,
            "http",
            value,
            _create(web, "Patient", patient, {**headers, **condition}),
            load.deadline,
        )
        if patient_id is None:
            continue
        rec.ack("Patient (HTTP)", value, patient_id)
        observation_value = f"{value}-O"
        observation = {
            "resourceType": "Observation",
            "status": "final",
            "identifier": [{"system": observation_system(), "value": observation_value}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "valueQuantity": {"value": 72, "unit": "/min"},
        }
        condition = {"If-None-Exist": f"identifier={observation_system()}|{observation_value}"}
        await load.pace("http")
        rec.tried("Observation (HTTP)", observation_value)
        observation_id = await until_ok(
            rec,
            "http",
            observation_value,
            _create(web, "Observation", observation, {**headers, **condition}),
            load.deadline,
        )
        if observation_id is not None:
            rec.ack("Observation (HTTP)", observation_value, observation_id)


def _create(
    web: httpx.AsyncClient, kind: str, body: dict[str, Any], headers: dict[str, str]
) -> Try:
    async def attempt() -> tuple[bool, str, Any]:
        response = await web.post(f"/fhir/{kind}", json=body, headers=headers)
        ok = response.status_code in (200, 201)
        return ok, str(response.status_code), response.json().get("id") if ok else None

    return attempt


def adt_a04(name: str, control: str, mrn: str) -> bytes:
    return (
        f"MSH|^~\\&|HIS|{name}|HUB|YICHANG|20261207101500||ADT^A04^ADT_A01|{control}|P|2.5|||||"
        f"CHN|UNICODE UTF-8\rEVN|A04|20261207101500\r"
        f"PID|1||{mrn}^^^{name}^MR||测^试||19800102|M\r"
        f"PV1|1|O|内科门诊^^^{name}||||1234^李^医生|||||||||||V{control}\r"
    ).encode()


def oru_r01(name: str, control: str, mrn: str, filler: str) -> bytes:
    return (
        f"MSH|^~\\&|LIS|{name}|HUB|YICHANG|20261207101600||ORU^R01^ORU_R01|{control}|P|2.5|||||"
        f"CHN|UNICODE UTF-8\rPID|1||{mrn}^^^{name}^MR||测^试||19800102|M\r"
        f"OBR|1|P{filler}|{filler}|24331-1^Lipid panel^LN|||20261207080000\r"
        f"OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL|12.0-16.0|N|||F\r"
        f"OBX|2|NM|2345-7^Glucose^LN||5.1|mmol/L|3.9-6.1|N|||F\r"
    ).encode()


async def mllp_connection_loop(load: Load, facility: str, name: str, port: int) -> None:
    rec = load.rec
    client = MllpClient("127.0.0.1", port, connect_timeout=5)
    try:
        while not load.stop_new.is_set():
            number = load.next_number()
            mrn = f"{load.tag}-M{number}"
            control = f"{load.tag}-{number}"
            for suffix, payload in (
                ("A", adt_a04(name, f"{control}A", mrn)),
                ("O", oru_r01(name, f"{control}O", mrn, f"{control}F")),
            ):
                await load.pace("mllp")
                key = f"{facility}|{control}{suffix}"
                rec.tried("HL7 messages processed", key)
                acked = await until_ok(
                    rec, "mllp", key, _send(client, payload, f"{control}{suffix}"), load.deadline
                )
                if acked is None:
                    break  # the ORU needs the ADT before it
                rec.ack("HL7 messages processed", key, None)
                if suffix == "A":
                    rec.ack(f"Patient (HL7, {facility})", mrn, None)
                else:
                    rec.ack(f"DiagnosticReport (HL7, {facility})", f"{control}F", None)
                    for obx in (1, 2):
                        rec.ack(f"Observation (HL7, {facility})", f"{control}F/{obx}", None)
    finally:
        await client.close()


def _send(client: MllpClient, payload: bytes, control: str) -> Try:
    async def attempt() -> tuple[bool, str, Any]:
        outcome = interpret_ack(await client.send(payload, timeout=20), control)
        ok = outcome.kind is OutcomeKind.DELIVERED
        if not ok:
            await client.close()  # a fresh connection for the resend
        return ok, outcome.ack_code or outcome.error[:40], True

    return attempt


async def run_load(
    load: Load, *, public_url: str, cert: str, token: str, mllp_port: int, http_clients: int
) -> None:
    trust = ssl.create_default_context(cafile=cert)
    limits = httpx.Limits(max_connections=http_clients, max_keepalive_connections=http_clients)
    async with httpx.AsyncClient(
        base_url=public_url, verify=trust, timeout=30, limits=limits
    ) as web:
        await asyncio.gather(
            *(http_client_loop(load, web, token) for _ in range(http_clients)),
            *(mllp_connection_loop(load, f, n, mllp_port) for f, n in MLLP_FACILITIES),
        )


@dataclass
class Receiver:
    """A facility's rest-hook receiver on 127.0.0.1: 500 while ``failing``, else 200."""

    rec: Recorder
    failing: bool = False
    accepted: Counter[str] = field(default_factory=Counter)  # Observation id -> 200s answered
    _server: ThreadingHTTPServer | None = None

    def start(self) -> int:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                started = receiver.rec.now()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                resource_id = str(json.loads(body or b"{}").get("id") or "")
                ok = not receiver.failing
                self.send_response(200 if ok else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if ok:
                    receiver.accepted[resource_id] += 1
                receiver.rec.note(
                    Attempt(
                        "outbound",
                        resource_id,
                        started,
                        receiver.rec.now(),
                        ok,
                        "200" if ok else "HTTP 500",
                    )
                )

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return int(self._server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
