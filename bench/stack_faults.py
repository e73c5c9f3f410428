"""Fault tests of the production stack under load: nothing acknowledged is lost or duplicated.

    .venv/bin/python bench/stack_faults.py --fault kill-api|kill-worker|stop-broker|
        restart-postgres|outbound-errors|all [--load-seconds 60] [--fault-at 15] [--keep]

Brings up its own PostgreSQL cluster and RabbitMQ node in the run dir (bench/fault_env.py: the
machine's shared ones at 5432 and 5672 are never stopped), then ``scripts/stack``'s topology on
them (run dir, ports and database from the ``HUB_STACK_*`` variables, hub/stack/layout.py). Per
fault: the load of bench/fault_load.py for ``--load-seconds`` (FHIR conditional creates over
nginx's HTTPS, ADT^A04 + ORU^R01 over MLLP from three facilities), the fault ``--fault-at``
seconds in, then a wait until the backlog drains (HL7 inbox ``received`` and outbox ``pending``
empty, at most ``--drain-timeout``), then the checks against the stack's database: every 2xx and
every AA/CA present exactly once (bench/fault_check.py). Prints the error window, the first
success after the fault and the time to drain, with the load average. Exit 1 when anything is
lost or duplicated or the backlog did not drain.

Faults: ``kill-api`` SIGKILL to replica api-1's process group, restarted 10 s later as a
supervisor would; ``kill-worker`` SIGKILL to a busy Celery pool process (Celery starts
another); ``stop-broker`` ``rabbitmqctl stop``, 30 s, start; ``restart-postgres`` ``pg_ctl -m
fast stop``, 3 s, start; ``outbound-errors`` H001's rest-hook endpoint (a local HTTP server, a
Subscription on the load's Observations) answers 500 for 30 s, then 200.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from fault_check import Check, PhaseResult, check, recovery, report_lines
from fault_env import OwnPostgres, OwnRabbit, Stack, busy_child
from fault_load import (
    HEART_RATE,
    HTTP_FACILITY,
    MLLP_FACILITIES,
    Load,
    Receiver,
    Recorder,
    observation_system,
    patient_system,
    run_load,
)

from adapters.outbound.subscriptions import PAYLOAD_CONTENT_URL
from hub.auth.access_tokens import TokenIssuer
from hub.auth.purpose import DEFAULT_PURPOSE
from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.auth.service import load_signing_key
from hub.fhir.systems import facility_identifier_system
from hub.settings import Settings
from hub.stack.control import status
from hub.stack.layout import Layout, layout_from_env

FAULTS = ["kill-api", "kill-worker", "stop-broker", "restart-postgres", "outbound-errors"]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class Run:
    args: argparse.Namespace
    layout: Layout
    pg: OwnPostgres
    rabbit: OwnRabbit
    stack: Stack
    token: str = ""
    receiver: Receiver | None = None
    subscription_id: str = ""

    def db(self) -> psycopg.Connection[tuple[object, ...]]:
        return self.pg.connect(self.layout.database)


def facility_token(layout: Layout) -> str:
    """A facility-system token of H001, signed with the key `up` generated."""
    secrets = json.loads(layout.secrets_file.read_text())
    issuer = TokenIssuer(
        load_signing_key(Settings(signing_key=secrets["HUB_SIGNING_KEY"])),
        issuer=layout.public_url,
        audience=f"{layout.public_url}/fhir",
        ttl_seconds=4 * 3600,
    )
    role = Role.facility_system
    token, _ = issuer.issue(
        client_id="stack-faults",
        facility=HTTP_FACILITY,
        role=role,
        scope=DEFAULT_SCOPES[role],
        purpose_of_use=DEFAULT_PURPOSE[role],
    )
    return token


def subscribe(run: Run, port: int) -> str:
    """H001's rest-hook endpoint and a Subscription on the load's Observations (id-only)."""
    base = f"http://127.0.0.1:{port}/fhir"
    headers = {"Authorization": f"Bearer {run.token}", "Content-Type": "application/fhir+json"}
    endpoint = {
        "resourceType": "Endpoint",
        "status": "active",
        "address": base,
        "connectionType": {
            "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
            "code": "hl7-fhir-rest",
        },
        "managingOrganization": {"reference": f"Organization/{HTTP_FACILITY}"},
        "payloadType": [{"text": "FHIR notifications"}],
    }
    subscription = {
        "resourceType": "Subscription",
        "status": "active",
        "reason": "fault test",
        "criteria": f"Observation?code={HEART_RATE}",
        "channel": {
            "type": "rest-hook",
            "endpoint": f"{base}/notify",
            "payload": "application/fhir+json",
            "_payload": {"extension": [{"url": PAYLOAD_CONTENT_URL, "valueCode": "id-only"}]},
        },
    }
    trust = ssl.create_default_context(cafile=str(run.layout.tls_cert))
    with httpx.Client(base_url=run.layout.public_url, verify=trust, timeout=30) as web:
        for body in (endpoint, subscription):
            answer = web.post(f"/fhir/{body['resourceType']}", json=body, headers=headers)
            answer.raise_for_status()
    return str(answer.json()["id"])


# ---- the faults: each blocks until the fault is over; returns notes for the report


def kill_api(run: Run) -> list[str]:
    replica = run.stack.process("api-1")
    os.killpg(replica.pid, signal.SIGKILL)  # the replica: its manager and its uvicorn workers
    time.sleep(run.args.restart_after)
    started = time.monotonic()
    run.stack.restart("api-1")
    return [
        f"api-1 (pid {replica.pid}) killed; restarted after {run.args.restart_after:.0f} s, "
        f"ready {time.monotonic() - started:.1f} s later"
    ]


def kill_worker(run: Run) -> list[str]:
    worker = run.stack.process("worker")
    log = Path(worker.log)
    seen = log.stat().st_size
    with run.db() as db:
        waiting = db.execute("SELECT count(*) FROM hl7_inbox WHERE status = 'received'").fetchone()
    victim = busy_child(worker.pid, "PoolWorker")
    if victim is None:
        return ["no Celery pool process found: nothing killed"]
    os.kill(victim, signal.SIGKILL)
    time.sleep(3)  # Celery's master notices the loss and logs the task that was running
    with log.open("rb") as handle:
        handle.seek(seen)
        lost_task = b"WorkerLostError" in handle.read()
    return [
        f"Celery pool process {victim} killed (busy: 5 % of a core or more over 0.5 s; "
        f"{waiting[0] if waiting else '?'} HL7 messages waiting at that moment); "
        + (
            "it was running a task (WorkerLostError in the worker's log)"
            if lost_task
            else "no task was lost (it was idle)"
        )
    ]


def stop_broker(run: Run) -> list[str]:
    run.rabbit.stop()
    time.sleep(run.args.broker_down)
    started = time.monotonic()
    run.rabbit.start()
    return [
        f"RabbitMQ stopped for {run.args.broker_down:.0f} s; "
        f"took {time.monotonic() - started:.1f} s to start again"
    ]


def restart_postgres(run: Run) -> list[str]:
    started = time.monotonic()
    run.pg.stop("fast")
    stopped = time.monotonic()
    time.sleep(run.args.pg_down)
    run.pg.start()
    return [
        f"PostgreSQL fast shutdown took {stopped - started:.1f} s, down "
        f"{run.args.pg_down:.0f} s, up again {time.monotonic() - stopped:.1f} s after it stopped"
    ]


def outbound_errors(run: Run) -> list[str]:
    assert run.receiver is not None
    run.receiver.failing = True
    time.sleep(run.args.outbound_error_seconds)
    run.receiver.failing = False
    return [f"H001's rest-hook receiver answered 500 for {run.args.outbound_error_seconds:.0f} s"]


INJECT: dict[str, Callable[[Run], list[str]]] = {
    "kill-api": kill_api,
    "kill-worker": kill_worker,
    "stop-broker": stop_broker,
    "restart-postgres": restart_postgres,
    "outbound-errors": outbound_errors,
}


# ---- the database side


def backlog(run: Run) -> tuple[int, int, int, int]:
    """(HL7 received, HL7 dead, outbox pending, outbox dead)."""
    counts: dict[tuple[str, str], int] = {}
    with run.db() as db:
        for table in ("hl7_inbox", "outbox"):
            rows = db.execute(f"SELECT status, count(*) FROM {table} GROUP BY status").fetchall()
            counts.update({(table, str(state)): int(str(n)) for state, n in rows})
    return (
        counts.get(("hl7_inbox", "received"), 0),
        counts.get(("hl7_inbox", "dead"), 0),
        counts.get(("outbox", "pending"), 0),
        counts.get(("outbox", "dead"), 0),
    )


async def sample_backlog(run: Run, rec: Recorder, samples: list[tuple[float, int, int]]) -> None:
    """(run-clock second, HL7 received, outbox pending) every second, until cancelled; a
    second the database does not answer is skipped."""
    while True:
        try:
            counts = await asyncio.to_thread(backlog, run)
            samples.append((rec.now(), counts[0], counts[2]))
        except psycopg.Error:
            pass
        await asyncio.sleep(1)


def backlog_note(samples: list[tuple[float, int, int]], fault_at: float) -> str:
    if not samples:
        return "backlog not sampled"
    inbox = max(samples, key=lambda s: s[1])
    outbox = max(samples, key=lambda s: s[2])
    return (
        f"backlog peaks: HL7 received {inbox[1]} at {inbox[0] - fault_at:+.1f} s, outbox "
        f"pending {outbox[2]} at {outbox[0] - fault_at:+.1f} s (sampled each second)"
    )


def wait_drained(run: Run, timeout: float) -> tuple[bool, tuple[int, int, int, int]]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            counts = backlog(run)
            if counts[0] == 0 and counts[2] == 0:
                return True, counts
        except psycopg.Error as exc:  # the database may still be coming back
            counts = (-1, -1, -1, -1)
            print(f"  (backlog not readable yet: {type(exc).__name__})", flush=True)
        if time.monotonic() > deadline:
            return False, counts
        time.sleep(1)


def identifiers(
    run: Run, resource_type: str, system: str, values: list[str]
) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    with run.db() as db:
        rows = db.execute(
            "SELECT t.code, r.resource_id FROM search_token t JOIN fhir_resource r ON r.rid = t.rid"
            " WHERE t.resource_type = %s AND t.param = 'identifier' AND t.system = %s"
            " AND t.code = ANY(%s) AND NOT r.deleted",
            (resource_type, system, values),
        ).fetchall()
    for code, resource_id in rows:
        found.setdefault(str(code), []).append(str(resource_id))
    return found


def inbox_rows(run: Run, keys: list[str]) -> tuple[dict[str, list[str]], set[str]]:
    """(facility|control -> ids of processed rows, keys of dead rows)."""
    controls = [key.split("|", 1)[1] for key in keys]
    processed: dict[str, list[str]] = {}
    dead: set[str] = set()
    with run.db() as db:
        rows = db.execute(
            "SELECT facility_code, control_id, id, status FROM hl7_inbox"
            " WHERE control_id = ANY(%s)",
            (controls,),
        ).fetchall()
    for facility, control, row_id, state in rows:
        key = f"{facility}|{control}"
        if state == "processed":
            processed.setdefault(key, []).append(str(row_id))
        elif state == "dead":
            dead.add(key)
    return processed, dead


def checks(run: Run, rec: Recorder) -> list[Check]:
    out: list[Check] = []
    for family, resource_type, system in (
        ("Patient (HTTP)", "Patient", patient_system()),
        ("Observation (HTTP)", "Observation", observation_system()),
    ):
        acked, sent = rec.acked.get(family, {}), rec.sent.get(family, set())
        found = identifiers(run, resource_type, system, sorted(sent))
        out.append(check(family, acked, found, sent=sent))
    messages = rec.acked.get("HL7 messages processed", {})
    sent_messages = rec.sent.get("HL7 messages processed", set())
    processed, dead = inbox_rows(run, sorted(sent_messages))
    out.append(
        check("HL7 messages processed", messages, processed, sent=sent_messages, excused=dead)
    )
    for facility, _ in MLLP_FACILITIES:
        for label, resource_type, kind in (
            ("Patient", "Patient", "patient"),
            ("DiagnosticReport", "DiagnosticReport", "order"),
            ("Observation", "Observation", "observation"),
        ):
            family = f"{label} (HL7, {facility})"
            acked = rec.acked.get(family, {})
            system = facility_identifier_system(facility, kind)
            found = identifiers(run, resource_type, system, sorted(acked))
            out.append(check(family, acked, found))
    return out


def outbound_checks(run: Run, rec: Recorder) -> tuple[list[Check], list[str]]:
    """Each acknowledged Observation: one outbox row, and one notification the receiver accepted
    (a dead-lettered row is counted, not lost)."""
    assert run.receiver is not None
    observations = {str(i): None for i in rec.acked.get("Observation (HTTP)", {}).values() if i}
    with run.db() as db:
        rows = db.execute(
            "SELECT id, source, status FROM outbox WHERE event = %s",
            (f"Subscription/{run.subscription_id}",),
        ).fetchall()
    by_source: dict[str, list[str]] = {}
    dead: set[str] = set()
    statuses: dict[str, int] = {}
    for row_id, source, state in rows:
        resource_id = str(source).split("/")[1]
        by_source.setdefault(resource_id, []).append(str(row_id))
        statuses[str(state)] = statuses.get(str(state), 0) + 1
        if state == "dead":
            dead.add(resource_id)
    received = {key: ["200"] * n for key, n in run.receiver.accepted.items()}
    notes = [f"outbox rows of the Subscription by status: {statuses}"]
    return [
        check("outbox rows (one per Observation)", observations, by_source),
        check("notifications accepted by receiver", observations, received, excused=dead),
    ], notes


# ---- one phase


async def phase(run: Run, fault: str) -> PhaseResult:
    args = run.args
    rec = Recorder()
    load = Load(rec, tag=f"{fault[:4].upper()}{uuid.uuid4().hex[:6]}")
    load.deadline = args.load_seconds + args.retry_seconds
    load.rates = {"http": args.http_rate, "mllp": args.mllp_rate}
    if fault == "outbound-errors" and run.receiver is None:
        run.receiver = Receiver(rec)
        run.subscription_id = subscribe(run, run.receiver.start())
    if run.receiver is not None:
        run.receiver.rec = rec
    print(
        f"-- {fault}: load for {args.load_seconds:.0f} s, the fault at {args.fault_at:.0f} s; "
        f"load average {load_average()}",
        flush=True,
    )
    driving = asyncio.create_task(
        run_load(
            load,
            public_url=run.layout.public_url,
            cert=str(run.layout.tls_cert),
            token=run.token,
            mllp_port=run.layout.mllp_port,
            http_clients=args.http_clients,
        )
    )
    samples: list[tuple[float, int, int]] = []
    sampling = asyncio.create_task(sample_backlog(run, rec, samples))
    await asyncio.sleep(args.fault_at)
    fault_at = rec.now()
    load_at_fault = load_average()
    notes = await asyncio.to_thread(INJECT[fault], run)
    notes.append(f"fault injected {fault_at:.1f} s into the load (load average {load_at_fault})")
    await asyncio.sleep(max(0.0, args.load_seconds - rec.now()))
    load.stop_new.set()
    await driving
    drained, counts = await asyncio.to_thread(wait_drained, run, args.drain_timeout)
    drained_after = rec.now() - fault_at if drained else None
    sampling.cancel()
    notes.append(backlog_note(samples, fault_at))
    notes.append(
        f"after the drain: HL7 received {counts[0]}, dead {counts[1]}; outbox pending "
        f"{counts[2]}, dead {counts[3]}; load average {load_average()}"
    )
    results = checks(run, rec)
    if fault == "outbound-errors":
        extra, extra_notes = outbound_checks(run, rec)
        results += extra
        notes += extra_notes
    not_ready = [row.name for row in status(run.layout) if not row.ready]
    if not_ready:
        notes.append(f"NOT READY after the drain: {', '.join(not_ready)}")
    recoveries = [
        recovery(channel, rec.attempts, fault_at) for channel in ("http", "mllp", "outbound")
    ]
    result = PhaseResult(fault, recoveries, results, drained_after, notes)
    if not_ready:
        result = dataclasses.replace(result, drained_after=None)
    return result


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fault", choices=[*FAULTS, "all"])
    parser.add_argument("--load-seconds", type=float, default=60)
    parser.add_argument("--fault-at", type=float, default=15)
    parser.add_argument(
        "--retry-seconds",
        type=float,
        default=60,
        help="how long after the load a failed item is still retried",
    )
    parser.add_argument("--drain-timeout", type=float, default=300)
    parser.add_argument("--http-clients", type=int, default=4)
    parser.add_argument("--http-rate", type=float, default=12, help="FHIR creates per second")
    parser.add_argument("--mllp-rate", type=float, default=6, help="HL7 messages per second")
    parser.add_argument("--restart-after", type=float, default=10)
    parser.add_argument("--broker-down", type=float, default=30)
    parser.add_argument("--pg-down", type=float, default=3)
    parser.add_argument("--outbound-error-seconds", type=float, default=30)
    parser.add_argument("--pg-port", type=int, default=55432)
    parser.add_argument("--rabbit-port", type=int, default=55672)
    parser.add_argument("--keep", action="store_true", help="leave the stack and services running")
    parser.add_argument("--down", action="store_true", help="stop what a --keep run left, and exit")
    args = parser.parse_args(argv)
    if not args.fault and not args.down:
        parser.error("--fault is required")
    return args


async def main_async(run: Run) -> list[PhaseResult]:
    """Each fault in turn on the same stack, its report printed as soon as it is known."""
    faults = FAULTS if run.args.fault == "all" else [run.args.fault]
    results = []
    for fault in faults:
        try:
            result = await phase(run, fault)
        except (
            OSError,
            RuntimeError,
            subprocess.SubprocessError,
            httpx.HTTPError,
            psycopg.Error,
        ) as exc:
            result = PhaseResult(fault, [], [], None, [f"the phase stopped: {exc!r}"])
        print("\n".join(report_lines(result)), flush=True)
        results.append(result)
    return results


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    base = layout_from_env()
    if base.run_dir == Path("/tmp/hub-stack"):
        base = dataclasses.replace(base, run_dir=Path("/tmp/hub-stack-faults"))
    services = base.run_dir / "services"
    pg = OwnPostgres(services / "postgres", args.pg_port)
    rabbit = OwnRabbit(services / "rabbitmq", args.rabbit_port)
    layout = dataclasses.replace(base, postgres_port=pg.port, broker_url=rabbit.url)
    run = Run(args, layout, pg, rabbit, Stack(layout))
    if args.down:
        run.stack.down()
        rabbit.stop()
        pg.stop()
        return 0
    print(f"stack_faults: {args.fault}; run dir {layout.run_dir}; load average {load_average()}")
    results: list[PhaseResult] = []
    try:
        services.mkdir(parents=True, exist_ok=True)
        layout.run_dir.chmod(0o755)
        services.chmod(0o755)
        pg.init()
        pg.start()
        rabbit.init()
        rabbit.start()
        print(
            f"own PostgreSQL on {pg.port}, RabbitMQ {rabbit.node} on {rabbit.port}; "
            f"stack up ({time.monotonic() - started:.0f} s so far)",
            flush=True,
        )
        run.stack.up()
        run.token = facility_token(layout)
        print(f"stack ready ({time.monotonic() - started:.0f} s so far)", flush=True)
        results = asyncio.run(main_async(run))
    finally:
        if run.receiver is not None:
            run.receiver.stop()
        if not args.keep:
            run.stack.down()
            rabbit.stop()
            pg.stop()
    for result in results:
        print(
            f"{result.fault}: {'PASS' if result.passed else 'FAIL'}, lost {result.lost}, "
            f"duplicated {result.duplicated}"
        )
    print(f"total {time.monotonic() - started:.0f} s; load average {load_average()}")
    return 0 if results and all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
