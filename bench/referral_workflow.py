"""Referral workflow on a live hub (PostgreSQL, loopback, bounded in time).

    .venv/bin/python bench/referral_workflow.py [--tasks 1000000] [--duration 10] [--concurrency 32]
                                       [--doctors 8] [--quick]

One run: a fresh PostgreSQL database (dropped at the end), the region seeded (facilities and the
referral directory), ``--tasks`` referral Tasks bulk-loaded through the store's bulk path
(``hub.fhir.bulk``: COPY, index rows included), spread over the hospitals as owners, a tenth of
them requested; then the hub under uvicorn (one worker, pinned to one core, as
bench/fhir_api.py runs it) and:

1. create + accept: ``--doctors`` threads, each a township doctor POSTing a referral
   ServiceRequest (the hub creates its Task in the same transaction) and the city hospital
   accepting it (PUT with If-Match); referrals/s over ``--duration`` seconds.
2. the worklist search ``Task?owner=Organization/H001&status=requested`` beside the plain
   ``Task?owner=Organization/H001`` in the same run, at ``--concurrency`` connections: req/s,
   p50, p99 and the ratio. Goals (issue 15): worklist within 1.5x of plain, p99 <= 50 ms at 32,
   create + accept >= 200 referrals/s.
"""

from __future__ import annotations

import argparse
import random
import signal
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fhir_api import (
    DEFAULT_ADMIN_URL,
    AiohttpClient,
    Client,
    Load,
    Options,
    Server,
    WrkClient,
    configure_hub,
    create_database,
    drop_database,
    ensure_wrk,
    free_port,
    log,
    measure,
    stage,
)

SOURCE, TARGET, SERVICE = "TC001", "H001", "HealthcareService/H001-cardiology"
BATCH = 20_000
PATIENTS = 500


def _token(facility: str, role: str) -> str:
    from hub.auth.purpose import DEFAULT_PURPOSE
    from hub.auth.roles import DEFAULT_SCOPES, Role
    from hub.auth.service import get_issuer

    chosen = Role(role)
    token, _ = get_issuer().issue(
        client_id=f"bench-{facility}", facility=facility, role=chosen,
        scope=DEFAULT_SCOPES[chosen], purpose_of_use=DEFAULT_PURPOSE[chosen],
    )  # fmt: skip
    return token


def load_tasks(count: int) -> list[str]:
    """Seed the region, ``PATIENTS`` Patients of the source and ``count`` referral Tasks;
    returns the patient ids."""
    from hub.auth.actor import SYSTEM_ACTOR, Actor
    from hub.auth.roles import Role
    from hub.db import session_scope
    from hub.fhir.bulk import analyze_tables, bulk_create
    from hub.fhir.systems import facility_patient_system
    from hub.region.facilities import load_facilities
    from hub.security.fields import get_cipher
    from hub.seeding import seed_region
    from hub.settings import get_settings
    from referral.rules import PROCESS_REQUEST_CODE

    seeded = time.monotonic()
    seed_region()
    log(f"   region seeded in {time.monotonic() - seeded:.0f} s")
    # the source's own patients: an operator loading them in the source facility's name
    loader = Actor.build(
        client_id="bench", facility=SOURCE, role=Role.operator, scope="system/*.cruds"
    )
    cipher, base = get_cipher(), get_settings().fhir_base_url
    owners = [f.code for f in load_facilities() if f.level_code]  # the hospitals
    patients = [str(uuid.uuid4()) for _ in range(PATIENTS)]
    with session_scope() as session:
        people = [
            {"resourceType": "Patient", "id": p, "gender": "female", "birthDate": "1960-05-01",
             "name": [{"family": "李", "given": [f"芳{n}"]}],
             "identifier": [{"system": facility_patient_system(SOURCE), "value": f"B-{n}"}]}
            for n, p in enumerate(patients)
        ]  # fmt: skip
        # write hooks on: in the patient index, as the API puts a facility's patients
        bulk_create(session, "Patient", people, actor=loader, cipher=cipher, base_url=base,
                    write_hooks=True)  # fmt: skip
    rng = random.Random(15)
    start = datetime.now(UTC) - timedelta(days=30)
    loaded = time.monotonic()
    for first in range(0, count, BATCH):
        tasks: list[dict[str, Any]] = []
        requests: list[dict[str, Any]] = []
        for _ in range(min(BATCH, count - first)):
            moment = start + timedelta(seconds=rng.randrange(30 * 86400))
            patient, focus = rng.choice(patients), str(uuid.uuid4())
            requests.append(
                {  # the referral each Task carries out (references are checked)
                    "resourceType": "ServiceRequest",
                    "id": focus,
                    "status": "active",
                    "intent": "order",
                    "subject": {"reference": f"Patient/{patient}"},
                    "requester": {"reference": f"Organization/{SOURCE}"},
                    "authoredOn": moment.isoformat(timespec="seconds"),
                }
            )
            tasks.append({
                "resourceType": "Task",
                "status": "requested" if rng.random() < 0.1 else rng.choice(
                    ("accepted", "in-progress", "completed", "rejected", "cancelled")),
                "intent": "order", "code": PROCESS_REQUEST_CODE,
                "focus": {"reference": f"ServiceRequest/{focus}"},
                "for": {"reference": f"Patient/{patient}"},
                "authoredOn": moment.isoformat(timespec="seconds"),
                "requester": {"reference": f"Organization/{SOURCE}"},
                "owner": {"reference": f"Organization/{rng.choice(owners)}"},
                "priority": rng.choice(("routine", "routine", "urgent", "stat")),
            })  # fmt: skip
        with session_scope() as session:
            bulk_create(session, "ServiceRequest", requests, actor=SYSTEM_ACTOR, cipher=cipher,
                        base_url=base)  # fmt: skip
            bulk_create(session, "Task", tasks, actor=SYSTEM_ACTOR, cipher=cipher, base_url=base)
    log(f"   {count:,} Tasks bulk-loaded in {time.monotonic() - loaded:.0f} s")
    with session_scope() as session:
        analyze_tables(session)  # as autovacuum would after a load this size
    return patients


def _referral(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest", "status": "active", "intent": "order",
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}],
        "priority": "urgent", "subject": {"reference": f"Patient/{patient}"},
        "requester": {"reference": f"Organization/{SOURCE}"},
        "performer": [{"reference": SERVICE}], "reasonCode": [{"text": "胸痛待查"}],
    }  # fmt: skip


def create_and_accept(fhir: str, patients: list[str], doctors: int, seconds: float) -> None:
    """Referrals made and accepted per second, ``doctors`` pairs of doctors at once."""
    up = {"Authorization": f"Bearer {_token(SOURCE, 'practitioner')}"}
    down = {"Authorization": f"Bearer {_token(TARGET, 'practitioner')}"}
    done: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds

    def doctor(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=fhir, timeout=30) as client:
            while time.monotonic() < deadline:
                started = time.monotonic()
                made = client.post("/ServiceRequest", json=_referral(rng.choice(patients)),
                                   headers=up)  # fmt: skip
                focus = f"ServiceRequest/{made.json().get('id')}"
                found = client.get("/Task", params={"focus": focus}, headers=down)
                entries = found.json().get("entry") or []
                if made.status_code != 201 or not entries:
                    errors.append(made.text[:200])
                    continue
                task = {**entries[0]["resource"], "status": "accepted"}
                version = task["meta"]["versionId"]
                accepted = client.put(f"/Task/{task['id']}", json=task,
                                      headers={**down, "If-Match": f'W/"{version}"'})  # fmt: skip
                if accepted.status_code != 200:
                    errors.append(accepted.text[:200])
                    continue
                done.append(time.monotonic() - started)

    threads = [threading.Thread(target=doctor, args=(n,)) for n in range(doctors)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    done.sort()
    rate = len(done) / elapsed
    p50 = done[len(done) // 2] * 1000 if done else 0.0
    log(f"   create + accept, {doctors} doctor pairs: {rate:.0f} referrals/s "
        f"({len(done)} in {elapsed:.1f} s, p50 {p50:.0f} ms per referral, errors {len(errors)}; "
        f"goal >= 200/s: {'met' if rate >= 200 else 'not met'})")  # fmt: skip
    if errors:
        log(f"   first error: {errors[0]}")


def searches(client: Client, fhir: str, opts: Options) -> None:
    token = _token(TARGET, "practitioner")
    plain = Load(fhir, [("GET", f"/fhir/Task?owner=Organization/{TARGET}&_count=20", "")], token)
    worklist = Load(
        fhir,
        [("GET", f"/fhir/Task?owner=Organization/{TARGET}&status=requested&_count=20", "")],
        token,
    )
    base = measure(client, "plain Task?owner=", plain, opts, opts.concurrency)
    work = measure(client, "worklist Task?owner=&status=", worklist, opts, opts.concurrency)
    ratio = work.p50_ms / base.p50_ms if base.p50_ms else float("nan")
    log(f"   worklist / plain p50 = {ratio:.2f} (goal <= 1.5: {'met' if ratio <= 1.5 else 'not'}"
        f"); worklist p99 {work.p99_ms:.1f} ms (goal <= 50: "
        f"{'met' if work.p99_ms <= 50 else 'not met'})")  # fmt: skip


def parse_args() -> tuple[Options, int, int]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=1_000_000, help="referral Tasks stored")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--concurrency", type=int, default=32, help="search connections")
    parser.add_argument("--doctors", type=int, default=8, help="create + accept threads")
    parser.add_argument("--quick", action="store_true", help="10,000 Tasks, 3 s phases")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="PostgreSQL server")
    args = parser.parse_args()
    tasks, duration = (10_000, 3.0) if args.quick else (args.tasks, args.duration)
    if not 1 <= args.concurrency <= 256 or not 1 <= duration <= 120 or tasks < 0:
        parser.error("concurrency must be 1..256, duration 1..120 s, tasks >= 0")
    warmup = max(1.0, min(3.0, duration / 3))
    opts = Options([tasks], duration, warmup, args.concurrency, args.admin_url)
    return opts, tasks, args.doctors


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: server, database


def main() -> None:
    opts, tasks, doctors = parse_args()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-referral-"))
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
        with stage(f"load {tasks:,} referral Tasks (bulk path)"):
            patients = load_tasks(tasks)
        server = Server("hub.asgi:app", port, workdir / "hub.log", "/healthz")
        base = f"http://127.0.0.1:{port}"
        with stage("create + accept through the API"):
            create_and_accept(f"{base}/fhir", patients, doctors, opts.duration)
        wrk = ensure_wrk()
        client: Client = WrkClient(wrk, workdir) if wrk else AiohttpClient()
        with stage(f"worklist vs plain search, {tasks:,} Tasks stored ({client.name})"):
            searches(client, base, opts)
    finally:
        if server is not None:
            server.stop()
        from hub.db import reset_engine

        reset_engine()
        drop_database(opts.admin_url, name)
        log(f"database {name} dropped; logs in {workdir}")
        log(f"total: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
