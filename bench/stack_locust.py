"""The region-day's users for bench/stack_load.py, as Locust users. Importing this module
patches the process for gevent (Locust does), so import it only in the load generator.

- ``FacilityFeed``: one facility's interface engine, one persistent MLLP connection, ADT/ORU/SIU
  messages from bench/hl7_data.py; each ACK's code is recorded (AA or CA: ok).
- ``Doctor``: a practitioner of one facility reading by id and searching (consent-filtered: a
  patient who denied this facility must be 404 by id and absent from searches).
- ``Cashier``: a facility's cashier settling a visit (``Claim/$submit``, a new invoice each).
- ``BookingPatient``: a patient app at the release time: ``$find``, ``$hold`` the first place
  offered, ``$book`` it; a 409 (full, limits) is an expected refusal, not an error.
- ``Healthz``: the floor, nginx -> ``/healthz``.

Each user class is made for a run by ``user_classes`` (a ``Plan`` and the counts); the
outcome of each call (ok, refused, error) travels in the request's ``context``.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gevent.ssl
import orjson
from hl7_data import FeedMessage
from locust import User, constant, constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser
from locust.exception import StopUser
from mllp_socket import BlockingMllpConnection, MllpSocketError, ack_code
from stack_figures import ERROR, OK, REFUSED, burst_wait

JSON = "application/fhir+json"
# Per-user paces: few enough connections for the gateway, enough to offer the mix's rates.
PACE = {"hl7": 2.0, "reads": 2.0, "settlements": 1.0, "booking": 4.0}


@dataclass
class Plan:
    """What the users need, made by the setup before the timed phase."""

    base_url: str
    cert: str
    mllp: tuple[str, int]
    feeds: list[list[FeedMessage]]  # one per FacilityFeed user
    practitioner_tokens: dict[str, str]  # facility -> token
    cashier_tokens: dict[str, str]  # facility -> token (purpose HPAYMT)
    insured: dict[str, list[tuple[str, str]]]  # facility -> [(patient, coverage)]
    clinical: list[str]  # patients with Encounters and Observations
    identifiers: dict[str, str]  # patient -> "system|value"
    denied: set[tuple[str, str]]  # (patient, facility) whose Consent denies that facility
    patient_tokens: list[tuple[str, str]]  # (patient, token), one per BookingPatient user
    hospitals: list[str]  # where slots were released
    release_day: str
    burst: tuple[float, float] = (0.0, 0.0)  # monotonic start and end, set at the timed phase
    counters: dict[str, Iterator[int]] = field(default_factory=dict)

    def next_index(self, kind: str) -> int:
        return next(self.counters.setdefault(kind, itertools.count()))


def _trust(cert: str) -> Callable[..., gevent.ssl.SSLContext]:
    def factory(**_: Any) -> gevent.ssl.SSLContext:
        return gevent.ssl.create_default_context(cafile=cert)

    return factory


class _Fhir(FastHttpUser):
    abstract = True
    plan: Plan
    insecure = False
    network_timeout = 60.0  # nginx's proxy_read_timeout
    connection_timeout = 10.0
    token = ""

    def call(
        self,
        method: str,
        path: str,
        name: str,
        judge: Callable[[int, bytes], str],
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """One request; ``judge(status, body)`` says ok, refused or error."""
        context: dict[str, str] = {}
        headers = {"Authorization": f"Bearer {self.token}"}
        data: Any = None  # bytes: geventhttpclient sends them as they are
        if body is not None:
            headers["Content-Type"] = JSON
            data = orjson.dumps(body)
        with self.client.request(
            method,
            path,
            name=name,
            headers=headers,
            data=data,
            params=params,
            catch_response=True,
            context=context,
        ) as response:
            status, content = response.status_code or 0, response.content or b""
            outcome = judge(status, content)
            context["outcome"] = outcome
            if outcome == REFUSED:
                context["detail"] = f"{status} {refusal_code(content)}"
            elif not status:  # no answer: say why (reset, refused, timeout)
                context["detail"] = f"no answer: {type(response.error).__name__}"
            if outcome == ERROR:
                response.failure(f"{status}: {content[:200]!r}")
            else:
                response.success()
        return status, content


def refusal_code(body: bytes) -> str:
    """The code an app shows (``issue.details.coding.code`` of the OperationOutcome)."""
    try:
        issue = orjson.loads(body)["issue"][0]
        return str(issue["details"]["coding"][0]["code"])
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        return "?"


def _expect(*statuses: int, refused: tuple[int, ...] = ()) -> Callable[[int, bytes], str]:
    def judge(status: int, _: bytes) -> str:
        return OK if status in statuses else REFUSED if status in refused else ERROR

    return judge


class Healthz(_Fhir):
    abstract = True
    wait_time = constant(0)

    @task
    def healthz(self) -> None:
        self.call("GET", "/healthz", "baseline GET /healthz", _expect(200))


class Doctor(_Fhir):
    abstract = True
    wait_time = constant_throughput(PACE["reads"])

    def on_start(self) -> None:
        facilities = sorted(self.plan.practitioner_tokens)
        self.facility = facilities[self.plan.next_index("doctor") % len(facilities)]
        self.token = self.plan.practitioner_tokens[self.facility]

    @task
    def read(self) -> None:
        patient = random.choice(self.plan.clinical)
        hidden = (patient, self.facility) in self.plan.denied
        roll = random.random()
        if roll < 0.4:
            ok = 404 if hidden else 200
            self.call("GET", f"/fhir/Patient/{patient}", "read Patient/{id}", _expect(ok))
        elif roll < 0.6:
            self._search("Patient", {"identifier": self.plan.identifiers[patient]}, hidden)
        elif roll < 0.8:
            self._search("Observation", {"patient": patient, "_count": "20"}, hidden)
        else:
            self._search("Encounter", {"patient": patient}, hidden)

    def _search(self, kind: str, params: dict[str, str], hidden: bool) -> None:
        def judge(status: int, body: bytes) -> str:
            if status != 200:
                return ERROR
            total = orjson.loads(body).get("total")
            return ERROR if hidden and total else OK  # a denied patient must not show

        name = f"search {kind}?{next(iter(params))}"
        self.call("GET", f"/fhir/{kind}", name, judge, params=params)


class Cashier(_Fhir):
    abstract = True
    wait_time = constant_throughput(PACE["settlements"])

    def on_start(self) -> None:
        facilities = sorted(self.plan.cashier_tokens)
        self.facility = facilities[self.plan.next_index("cashier") % len(facilities)]
        self.token = self.plan.cashier_tokens[self.facility]

    @task
    def settle(self) -> None:
        patient, coverage = random.choice(self.plan.insured[self.facility])
        claim = settlement_claim(self.facility, patient, coverage, uuid.uuid4().hex)
        self.call("POST", "/fhir/Claim/$submit", "settle Claim/$submit", _expect(201), claim)


def settlement_claim(facility: str, patient: str, coverage: str, invoice: str) -> dict[str, Any]:
    """An outpatient visit's bill: registration fee and a consultation (README's codes)."""
    return {
        "resourceType": "Claim",
        "status": "active",
        "use": "claim",
        "identifier": [{"system": f"urn:his:{facility}", "value": invoice}],
        "type": {"coding": [{"code": "professional"}]},
        "patient": {"reference": f"Patient/{patient}"},
        "created": time.strftime("%Y-%m-%d"),
        "provider": {"reference": f"Organization/{facility}"},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [
            {"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{coverage}"}}
        ],
        "item": [
            {
                "sequence": 1,
                "productOrService": {"coding": [{"code": "001102000000100"}]},
                "quantity": {"value": 1},
                "unitPrice": {"value": 10.00, "currency": "CNY"},
            },
            {
                "sequence": 2,
                "productOrService": {"coding": [{"code": "002701000000100"}]},
                "quantity": {"value": 1},
                "unitPrice": {"value": 20.00, "currency": "CNY"},
            },
        ],
    }


def _booking_wait(user: BookingPatient) -> float:
    start, end = user.plan.burst
    return burst_wait(time.monotonic(), start, end, 1.0 / PACE["booking"])


class BookingPatient(_Fhir):
    abstract = True
    wait_time = _booking_wait
    # 409: slot-full, duplicate-booking, daily-limit, session-limit, hold-expired ...
    REFUSALS = (409,)

    def on_start(self) -> None:
        tokens = self.plan.patient_tokens
        self.patient, self.token = tokens[self.plan.next_index("patient") % len(tokens)]

    @task
    def attempt(self) -> None:
        params = {
            "organization": random.choice(self.plan.hospitals),
            "patient": self.patient,
            "start": self.plan.release_day,
            "end": self.plan.release_day,
            "_count": "5",
        }
        status, body = self.call(
            "GET", "/fhir/Appointment/$find", "booking $find", _expect(200), params=params
        )
        offers = (
            [e["resource"] for e in orjson.loads(body).get("entry", [])] if status == 200 else []
        )
        if not offers:
            return
        hold = {
            "resourceType": "Parameters",
            "parameter": [{"name": "appointment-resource", "resource": random.choice(offers)}],
        }
        status, body = self.call(
            "POST",
            "/fhir/Appointment/$hold",
            "booking $hold",
            _expect(201, refused=self.REFUSALS),
            hold,
        )
        if status != 201:
            return
        held = orjson.loads(body)["id"]
        book = {
            "resourceType": "Parameters",
            "parameter": [
                {
                    "name": "appointment-reference",
                    "valueReference": {"reference": f"Appointment/{held}"},
                }
            ],
        }
        self.call(
            "POST",
            "/fhir/Appointment/$book",
            "booking $book",
            _expect(200, 201, refused=self.REFUSALS),
            book,
        )


class FacilityFeed(User):
    """One facility's HL7 v2 interface: its messages in order over one MLLP connection."""

    abstract = True
    plan: Plan
    wait_time = constant_throughput(PACE["hl7"])

    def on_start(self) -> None:
        index = self.plan.next_index("feed")
        self.messages = iter(self.plan.feeds[index % len(self.plan.feeds)])
        self.connection = BlockingMllpConnection(*self.plan.mllp)

    def on_stop(self) -> None:
        self.connection.close()

    @task
    def send(self) -> None:
        message = next(self.messages, None)
        if message is None:
            raise StopUser  # its feed is used up (sized for the run: should not happen)
        began = time.perf_counter()
        context: dict[str, str] = {}
        exception: Exception | None = None
        try:
            code = ack_code(self.connection.send(message.payload))
            context["outcome"] = OK if code in ("AA", "CA") else ERROR
            context["detail"] = code
        except MllpSocketError as exc:
            exception, context["outcome"] = exc, ERROR
            context["detail"] = type(exc.__cause__ or exc).__name__
        self.environment.events.request.fire(
            request_type="MLLP",
            name=f"HL7 v2 {message.kind} (ACK)",
            response_time=(time.perf_counter() - began) * 1000,
            response_length=0,
            exception=exception
            or (RuntimeError(f"ACK {context['detail']}") if context["outcome"] == ERROR else None),
            context=context,
            response=None,
        )


def user_classes(plan: Plan, counts: dict[type[User], int]) -> list[type[User]]:
    """Concrete subclasses for one run: the plan, and ``fixed_count`` users of each."""
    made: list[type[User]] = []
    for base, count in counts.items():
        if count <= 0:
            continue
        attributes: dict[str, Any] = {"abstract": False, "plan": plan, "fixed_count": count}
        if issubclass(base, FastHttpUser):
            attributes.update(
                host=plan.base_url, ssl_context_factory=staticmethod(_trust(plan.cert))
            )
        made.append(type(base.__name__, (base,), attributes))
    return made
