"""Web console pages' server time on a region-sized database (PostgreSQL, loopback, bounded).

    .venv/bin/python bench/console.py [--referrals 100000] [--residents 10000]
                                      [--requests 30] [--seconds 10] [--quick]

One run: a fresh PostgreSQL database (dropped at the end); the region seeded, ``--residents``
synthetic residents from the demo's generator (``hub seed --population --bulk``'s path) and
``--referrals`` referral Tasks bulk-loaded (bench/referral_workflow.py's loader); the first
hospital's slots of two days with bookings; 20,000 HL7 v2 messages of the last two days in the
message log (1 % dead, 1 % refused); a few break-glass accesses. Then the hub under uvicorn (one
worker, pinned to one core, as bench/fhir_api.py runs it), a referral desk of H001 and an
operator signed in through the sign-in form (the operator with its TOTP code), and each of their
pages requested one after another, as a person clicks: ``--requests`` times or ``--seconds``
seconds per page, whichever ends first, after two warm-up requests. Prints per page the count,
p50 and p99 (milliseconds, measured at the client on loopback, so they include the network
round trip) beside the same run's baseline (``/healthz`` and a bare FHIR read by id), and
whether the goal (<= 300 ms per page, issue 20) is met at p50 and p99. "first" is the page's
first request in the server process (templates compiled, charts drawn; a chart is drawn again
only when its figures change).
"""

from __future__ import annotations

import argparse
import random
import secrets
import signal
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import httpx
from fhir_api import (
    DEFAULT_ADMIN_URL,
    Server,
    configure_hub,
    create_database,
    drop_database,
    free_port,
    log,
    stage,
)
from referral_workflow import _token, load_tasks

GOAL_MS = 300.0
MESSAGES = 20_000
BOOKINGS = 60


@dataclass(frozen=True)
class Options:
    referrals: int
    residents: int
    requests: int
    seconds: float
    admin_url: str


def parse_args() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=30, help="per page")
    parser.add_argument("--seconds", type=float, default=10.0, help="at most, per page")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--quick", action="store_true", help="10,000 referrals, 10 requests")
    args = parser.parse_args()
    if args.quick:
        args.referrals, args.requests = min(args.referrals, 10_000), min(args.requests, 10)
    return Options(args.referrals, args.residents, args.requests, args.seconds, args.admin_url)


def load_residents(count: int) -> None:
    from hub.seeding import seed_population_bulk

    seed_population_bulk(count, seed=20)


def load_bookings(patients: list[str]) -> int:
    """H001's slots of today and tomorrow, and ``BOOKINGS`` places in them booked by the
    township centre's system for its patients (the desk then sees what consent lets it)."""
    from sqlalchemy import select

    from hub.auth.actor import Actor
    from hub.auth.roles import DEFAULT_SCOPES, Role
    from hub.db import session_scope
    from hub.fhir.store import FhirStore
    from hub.security.fields import get_cipher
    from referral.scheduling.models import SlotCapacityRow
    from referral.scheduling.service import generate_slots

    with session_scope() as session:
        generate_slots(session, ["H001"], days=1)
    his = Actor.build(client_id="bench-tc", facility="TC001", role=Role.facility_system,
                      scope=DEFAULT_SCOPES[Role.facility_system])  # fmt: skip
    booked = 0
    with session_scope() as session:
        store = FhirStore(session, his, get_cipher())
        free = session.execute(
            select(SlotCapacityRow.slot_id)
            .where(SlotCapacityRow.start > datetime.now(UTC))
            .order_by(SlotCapacityRow.start)
            .limit(BOOKINGS)
        ).scalars()
        for slot_id, patient in zip(free, patients, strict=False):
            store.create("Appointment", {
                "resourceType": "Appointment", "status": "booked",
                "slot": [{"reference": f"Slot/{slot_id}"}],
                "participant": [{"actor": {"reference": f"Patient/{patient}"},
                                 "status": "accepted"}],
            })  # fmt: skip
            booked += 1
    return booked


def load_messages(count: int) -> int:
    """``count`` messages over the last two days from the hospitals; returns a dead one's id."""
    from sqlalchemy import insert, select

    from adapters.hl7v2.models import InboxRow, MessageStatus
    from hub.db import session_scope
    from hub.region.facilities import load_facilities
    from hub.security.fields import get_cipher

    rng = random.Random(20)
    senders = [f.code for f in load_facilities() if f.level_code]
    raw = get_cipher().seal_bytes(
        b"MSH|^~\\&|HIS|YC_H001|HUB|YICHANG|20261201090000||ADT^A04^ADT_A01|X|P|2.5\r"
        b"PID|1||MRN-1^^^YC_H001^MR||WANG^XIAOMING||19900101|M\r"
    )
    now = datetime.now(UTC)
    rows = []
    for n in range(count):
        draw = rng.random()
        status = (MessageStatus.DEAD if draw < 0.01 else MessageStatus.REJECTED if draw < 0.02
                  else MessageStatus.PROCESSED)  # fmt: skip
        rows.append({
            "received_at": now - timedelta(seconds=rng.randrange(2 * 86400)),
            "facility_code": rng.choice(senders), "sending_facility": "", "control_id": f"B{n}",
            "dedup_id": f"B{n}", "message_type": rng.choice(("ADT^A04", "ORU^R01", "SIU^S12")),
            "version": "2.5", "charset": "UNICODE UTF-8", "peer": "", "status": status.value,
            "ack_code": "AE" if status is MessageStatus.REJECTED else "AA", "ack": "MSA|AA",
            "raw": raw, "attempts": 1, "resources": "",
            "error": "simulated" if status is MessageStatus.DEAD else None,
        })  # fmt: skip
    with session_scope() as session:
        session.execute(insert(InboxRow), rows)
        dead = session.execute(
            select(InboxRow.id).where(InboxRow.status == MessageStatus.DEAD.value).limit(1)
        ).scalar_one()
    return int(dead)


def load_break_glass(count: int = 20) -> None:
    from hub.audit.service import EMERGENCY_PURPOSE, AuditEntry, record_standalone
    from hub.auth.actor import Actor
    from hub.auth.roles import DEFAULT_SCOPES, Role

    actor = Actor.build(client_id="bench-ed", facility="H002", role=Role.practitioner,
                        scope=DEFAULT_SCOPES[Role.practitioner], purpose_of_use=EMERGENCY_PURPOSE,
                        practitioner="Practitioner/ed-1")  # fmt: skip
    for n in range(count):
        patient = f"Patient/bg-{n}"
        record_standalone(AuditEntry(actor, "read", "Patient", [patient], [patient],
                                     break_glass=True, break_glass_reason="急诊抢救"))  # fmt: skip


def staff_session(base: str, role: str, facility: str, timeout: float = 60) -> httpx.Client:
    """A staff member added as ``hub users add`` does, signed in through the form (with a
    TOTP code for the roles that need one)."""
    import pyotp

    from hub.console.accounts import add_user
    from hub.console.staff import StaffRole
    from hub.db import session_scope

    name, password = f"bench.{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12)
    with session_scope() as session:
        user = add_user(session, username=name, password=password, facility=facility,
                        role=StaffRole(role))  # fmt: skip
        secret = user.totp_secret
    client = httpx.Client(base_url=base, timeout=timeout)
    form = client.get("/console/login").text
    token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    code = pyotp.TOTP(secret).now() if secret else ""
    signed = client.post("/console/login", data={
        "username": name, "password": password, "code": code, "csrf_token": token})  # fmt: skip
    if signed.status_code != 303:
        raise RuntimeError(f"sign-in as {role} failed: {signed.status_code}")
    return client


@dataclass(frozen=True)
class Timing:
    page: str
    count: int
    p50: float
    p99: float
    first: float  # the first request of the page in this server process


class PageLimits(Protocol):
    requests: int  # views of a page, at most
    seconds: float  # time per page, at most


def time_page(client: httpx.Client, page: str, path: str, limits: PageLimits) -> Timing:
    """The page's first view, then up to ``limits.requests`` views within ``limits.seconds``,
    one at a time. A first view slower than the client's timeout is a figure too (count 0)."""
    started = time.perf_counter()
    try:
        client.get(path).raise_for_status()  # the first view: templates compiled, charts drawn
    except httpx.TimeoutException:
        waited = (time.perf_counter() - started) * 1000
        return Timing(page, 0, waited, waited, waited)
    first = (time.perf_counter() - started) * 1000
    client.get(path).raise_for_status()
    took: list[float] = []
    deadline = time.monotonic() + limits.seconds
    while len(took) < limits.requests and time.monotonic() < deadline:
        started = time.perf_counter()
        response = client.get(path)
        took.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code}")
    ordered = sorted(took)
    p99 = ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]
    return Timing(page, len(took), statistics.median(ordered), p99, first)


def report(baseline: list[Timing], pages: list[Timing]) -> None:
    log(f"{'page':<34}{'n':>5}{'p50 ms':>10}{'p99 ms':>10}{'first ms':>10}  goal {GOAL_MS:.0f} ms")
    for t in baseline:
        log(f"{t.page:<34}{t.count:>5}{t.p50:>10.1f}{t.p99:>10.1f}{t.first:>10.1f}  (baseline)")
    for t in pages:
        met = "met" if t.p99 <= GOAL_MS else ("p50 met, p99 not" if t.p50 <= GOAL_MS else "NOT met")
        met += "; first view NOT" if t.first > GOAL_MS else ""
        log(f"{t.page:<34}{t.count:>5}{t.p50:>10.1f}{t.p99:>10.1f}{t.first:>10.1f}  {met}")


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    opts = parse_args()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-console-"))
    port = free_port()
    with stage("database"):
        name, url = create_database(opts.admin_url)
        configure_hub(url, workdir / "var", port)
        from hub.migrate import upgrade_database

        upgrade_database()
    server: Server | None = None
    try:
        from hub.wiring import wire

        wire()
        with stage(f"load {opts.referrals:,} referral Tasks and the region (bulk path)"):
            patients = load_tasks(opts.referrals)
        with stage(f"load {opts.residents:,} residents (the demo's generator, bulk path)"):
            load_residents(opts.residents)
        with stage("slots, bookings, message log, break-glass accesses"):
            booked = load_bookings(patients)
            dead = load_messages(MESSAGES)
            load_break_glass()
            log(f"   {booked} bookings, {MESSAGES:,} messages")
        server = Server("hub.asgi:app", port, workdir / "hub.log", "/healthz")
        base = f"http://127.0.0.1:{port}"
        from referral.scheduling.desk import today as desk_today

        today = desk_today()
        with stage("pages, one request at a time"):
            fhir = httpx.Client(base_url=base, timeout=60, headers={
                "Authorization": f"Bearer {_token('TC001', 'practitioner')}"})  # fmt: skip
            baseline = [
                time_page(fhir, "/healthz", "/healthz", opts),
                time_page(fhir, "FHIR read Patient/{id}", f"/fhir/Patient/{patients[0]}", opts),
            ]
            desk = staff_session(base, "referral-desk", "H001")
            operator = staff_session(base, "operator", "HUB")
            pages = [
                time_page(desk, "desk: slots + fill-rate chart", f"/console/desk?day={today}",
                          opts),
                time_page(desk, "desk: bookings of the day",
                          f"/console/desk/bookings?day={today}", opts),
                time_page(desk, "desk: no-shows", f"/console/desk/noshows?day={today}", opts),
                time_page(operator, "operator: connections", "/console/operator", opts),
                time_page(operator, "operator: message log", "/console/operator/messages", opts),
                time_page(operator, "operator: dead letters",
                          "/console/operator/messages?status=dead", opts),
                time_page(operator, "operator: one message",
                          f"/console/operator/messages/{dead}", opts),
                time_page(operator, "operator: break-glass", "/console/operator/break-glass", opts),
                time_page(operator, "operator: audit chain", "/console/operator/audit", opts),
                time_page(operator, "operator: keys", "/console/operator/keys", opts),
                time_page(operator, "operator: charts (3)", "/console/operator/charts", opts),
            ]  # fmt: skip
        log(f"{opts.referrals:,} referral Tasks, {opts.residents:,} residents, "
            f"{MESSAGES:,} messages; hub: 1 uvicorn worker on 1 core")  # fmt: skip
        report(baseline, pages)
    finally:
        if server is not None:
            server.stop()
        from hub.db import reset_engine

        reset_engine()
        drop_database(opts.admin_url, name)
        log(f"database {name} dropped; logs in {workdir}")
        log(f"total: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
