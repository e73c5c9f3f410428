"""Cashiers settling at once: pre-settle and settle latency, settlements/s, 0 double-counted.

    .venv/bin/python bench/settlement.py [--persons 1000000] [--claims 4000]
        [--retry-share 0.2] [--concurrency 32] [--seconds 120]

On PostgreSQL (a fresh database on the local server, dropped at the end): ``--persons`` insured
persons are loaded straight through the store's bulk path (a Patient and a Coverage each, COPY).
The hub runs under uvicorn (one worker, pinned to one core). ``--claims`` Claims for persons
drawn at random are pre-settled (``use=predetermination``), then settled (``use=claim``) through
``POST /fhir/Claim/$submit`` by ``--concurrency`` cashiers; ``--retry-share`` of the settlements
are sent a second time on purpose, at once, as a HIS whose answer was lost would. Then the same
settlement rows are inserted bare (one transaction per row: the settlement, its ledger entry and
the accumulator upsert, by plain SQL from as many threads) to show what the database alone costs.
Checks: one settlement per Claim, every accumulator equal to the sum of its person's ledger
entries (double-counted persons: 0), and each retry answered with the first answer.
Prints the machine's load (``uptime``): the machine is shared, figures move with it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from fhir_api import Server, configure_hub, create_database, drop_database, free_port

ADMIN_URL = os.environ.get("HUB_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BATCH = 5000
ITEMS = (("001102000000100", 1, 10.0), ("002701000000100", 1, 20.0), ("002703000000200", 1, 150.0))


@dataclass
class Figures:
    answered: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]
    bodies: dict[str, set[bytes]]  # claim key -> the distinct answers it got (200 or 201)
    refusal: str = ""  # the first answer that was neither 200 nor 201, to say why


def load_persons(count: int) -> None:
    """``count`` Patients and their Coverages through the store's bulk path, in batches."""
    from hub.auth.actor import SYSTEM_ACTOR
    from hub.db import session_scope
    from hub.fhir.bulk import bulk_create
    from hub.fhir.store import FhirStore
    from hub.migrate import upgrade_database
    from hub.security.fields import get_cipher
    from hub.settings import get_settings
    from hub.wiring import wire
    from insurance.policy import Scheme
    from insurance.resources import coverage_resource

    upgrade_database()
    wire()
    cipher, base = get_cipher(), get_settings().fhir_base_url
    with session_scope() as session:
        store = FhirStore(session, SYSTEM_ACTOR, cipher, base)
        store.update(
            "Organization", "H001", {"resourceType": "Organization", "id": "H001", "name": "H001"}
        )
    began = time.perf_counter()
    for start in range(0, count, BATCH):
        ids = range(start, min(count, start + BATCH))
        patients = [{"resourceType": "Patient", "id": f"p{n}",
                     "name": [{"family": "王", "given": ["伟"]}]} for n in ids]  # fmt: skip
        coverages = [
            dict(coverage_resource(f"p{n}", (Scheme.UEBMI, Scheme.URRBMI)[n % 2], "420502",
                                   100_000, f"I{n}"), id=f"c{n}")
            for n in ids
        ]  # fmt: skip
        with session_scope() as session:
            for kind, batch in (("Patient", patients), ("Coverage", coverages)):
                bulk_create(session, kind, batch, actor=SYSTEM_ACTOR, cipher=cipher, base_url=base)
        if (start // BATCH) % 20 == 0:
            print(f"  {start + len(ids)} persons loaded, {time.perf_counter() - began:.0f} s")
    print(f"{count} insured persons loaded in {time.perf_counter() - began:.0f} s")


def claim(person: int, key: str, use: str) -> dict[str, Any]:
    return {
        "resourceType": "Claim",
        "identifier": [{"system": "urn:bench:his", "value": key}],
        "status": "active",
        "type": {"coding": [{"code": "professional"}]},
        "use": use,
        "patient": {"reference": f"Patient/p{person}"},
        "created": "2026-03-01",
        "provider": {"reference": "Organization/H001"},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True,
                       "coverage": {"reference": f"Coverage/c{person}"}}],
        "item": [
            {"sequence": n, "productOrService": {"coding": [{"code": code}]},
             "quantity": {"value": quantity}, "unitPrice": {"value": price, "currency": "CNY"}}
            for n, (code, quantity, price) in enumerate(ITEMS, start=1)
        ],
    }  # fmt: skip


async def hammer(
    url: str, token: str, bodies: list[tuple[str, bytes]], concurrency: int, seconds: float
) -> Figures:
    figures = Figures(0, 0.0, [], {}, {})
    deadline = time.monotonic() + seconds
    queue = iter(bodies)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, timeout=120, limits=limits) as client:

        async def cashier() -> None:
            for key, body in queue:
                if time.monotonic() > deadline:
                    return
                began = time.perf_counter()
                try:
                    response = await client.post(url, content=body)
                except httpx.TransportError as exc:  # counted (status 0), not retried here
                    figures.statuses[0] = figures.statuses.get(0, 0) + 1
                    figures.refusal = figures.refusal or f"transport: {exc!r}"
                    continue
                figures.latencies.append(time.perf_counter() - began)
                figures.statuses[response.status_code] = (
                    figures.statuses.get(response.status_code, 0) + 1
                )
                if response.status_code in (200, 201):
                    figures.bodies.setdefault(key, set()).add(response.content)
                elif not figures.refusal:
                    figures.refusal = response.text[:300]

        began = time.perf_counter()
        await asyncio.gather(*(cashier() for _ in range(concurrency)))
        figures.seconds = time.perf_counter() - began
    figures.answered = len(figures.latencies)
    return figures


def ledger_check(url: str) -> tuple[int, int, int]:
    """(settlements, Claim keys settled twice, persons whose accumulators differ from the sum
    of their ledger entries) from the database."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as c:
        settled = c.execute(sa.text("SELECT count(*) FROM insurance_settlement")).scalar_one()
        twice = c.execute(sa.text(
            "SELECT count(*) FROM (SELECT claim_key FROM insurance_settlement GROUP BY 1 "
            "HAVING count(*) > 1) d")).scalar_one()  # fmt: skip
        # the opening account balance of every bench Coverage is 1000.00 yuan (100000 fen)
        differ = c.execute(sa.text(
            "SELECT count(*) FROM insurance_accumulator a LEFT JOIN ("
            " SELECT s.patient_id, s.year, s.scheme, sum(e.deductible) d, sum(e.fund) f,"
            "  sum(e.account) ac FROM insurance_settlement s JOIN insurance_ledger_entry e"
            "  ON e.settlement_id = s.id GROUP BY 1, 2, 3) l USING (patient_id, year, scheme)"
            " WHERE a.deductible_used <> coalesce(l.d, 0) OR a.fund_paid <> coalesce(l.f, 0)"
            " OR a.account_balance <> 100000 - coalesce(l.ac, 0)")).scalar_one()  # fmt: skip
    engine.dispose()
    return int(settled), int(twice), int(differ)


def bare_inserts(url: str, rows: int, concurrency: int) -> Figures:
    """The same rows by plain SQL, one transaction each: a settlement, its ledger entry and an
    accumulator upsert, into copies of the ledger tables."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as c:
        for table in ("insurance_settlement", "insurance_ledger_entry", "insurance_accumulator"):
            c.execute(f"CREATE TABLE bare_{table} (LIKE {table} INCLUDING ALL)")
    latencies: list[float] = []
    rng = random.Random(7)
    persons = [rng.randrange(1_000_000) for _ in range(rows)]

    def insert(n: int) -> None:
        with psycopg.connect(dsn) as c:
            for k in range(n, rows, concurrency):
                began = time.perf_counter()
                with c.transaction():
                    sid = c.execute(
                        "INSERT INTO bare_insurance_settlement (claim_key, content_hash, "
                        "patient_id, facility, year, scheme, claim_id, state, response, created)"
                        " VALUES (%s, %s, %s, 'H001', 2026, 'UEBMI', %s, 'settled', '{}', now())"
                        " RETURNING id",
                        (f"bare|{k}", "0" * 64, f"p{persons[k]}", str(k)),
                    ).fetchone()
                    c.execute(
                        "INSERT INTO bare_insurance_ledger_entry (settlement_id, kind, submitted,"
                        " deductible, fund, account, cash, created) VALUES (%s, 'settle', 18000,"
                        " 0, 12000, 3000, 3000, now())",
                        (sid[0] if sid else 0,),
                    )
                    c.execute(
                        "INSERT INTO bare_insurance_accumulator VALUES (%s, 2026, 'UEBMI', 0,"
                        " 12000, 97000) ON CONFLICT (patient_id, year, scheme) DO UPDATE SET"
                        " fund_paid = bare_insurance_accumulator.fund_paid + 12000",
                        (f"p{persons[k]}",),
                    )
                latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(insert, range(concurrency)))
    return Figures(len(latencies), time.perf_counter() - began, latencies, {}, {})


def report(name: str, figures: Figures, unit: str) -> None:
    ms = sorted(x * 1000 for x in figures.latencies) or [0.0]
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    rate = figures.answered / figures.seconds if figures.seconds else 0.0
    print(
        f"{name:12s} {figures.answered} {unit} in {figures.seconds:.1f} s = {rate:.0f}/s | "
        f"p50 {statistics.median(ms):.1f} ms p99 {p99:.1f} ms | statuses {figures.statuses}"
    )
    if figures.refusal:
        print(f"{'':12s} first refusal: {figures.refusal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--claims", type=int, default=4000)
    parser.add_argument("--retry-share", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="settlement_bench_"))
    name, url = create_database(ADMIN_URL)
    try:
        port = free_port()
        configure_hub(url, workdir / "var", port)
        # Persons and Coverages are loaded by the hub's operator, not by the hospital: the
        # region's consent policy must share them for payment (HPAYMT) unless opted out, as
        # the default policy does only for TREAT (insurance/README-ops.md).
        consent = workdir / "consent_policy.json"
        consent.write_text(orjson.dumps({"opt_out_purposes": ["TREAT", "HPAYMT"]}).decode())
        os.environ["HUB_CONSENT_POLICY_FILE"] = str(consent)
        load_persons(args.persons)
        from hub.auth.roles import Role
        from hub.auth.service import get_issuer

        token, _ = get_issuer().issue(client_id="bench", facility="H001",
                                      role=Role.facility_system, scope="system/*.cruds",
                                      purpose_of_use="HPAYMT")  # fmt: skip
        rng = random.Random(17)
        plan = [(rng.randrange(args.persons), uuid.uuid4().hex) for _ in range(args.claims)]
        previews = [(k, orjson.dumps(claim(p, k, "predetermination"))) for p, k in plan]
        settles = [(k, orjson.dumps(claim(p, k, "claim"))) for p, k in plan]
        retried = [s for s in settles if rng.random() < args.retry_share]
        mixed = settles + retried  # the retries land among the first sends, some at once
        rng.shuffle(mixed)
        server = Server("hub.asgi:app", port, workdir / "hub.log", "/healthz")
        url_submit = f"http://127.0.0.1:{port}/fhir/Claim/$submit"
        try:
            pre = asyncio.run(hammer(url_submit, token, previews, args.concurrency, args.seconds))
            settle = asyncio.run(hammer(url_submit, token, mixed, args.concurrency, args.seconds))
        finally:
            server.stop()
        settled, twice, differ = ledger_check(url)
        bare = bare_inserts(url, settle.statuses.get(201, 0) or args.claims, args.concurrency)
        uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        print(f"{args.persons} insured persons, {args.claims} claims, {len(retried)} retried, "
              f"{args.concurrency} cashiers | uptime: {uptime} (a shared machine)")  # fmt: skip
        report("pre-settle", pre, "answers")
        report("settle", settle, "answers")
        print(f"{'':12s} settlements/s {settle.statuses.get(201, 0) / settle.seconds:.0f} | "
              f"settlements {settled} (claims answered 201: {settle.statuses.get(201, 0)}) | "
              f"claim keys settled twice {twice} | persons double-counted {differ} | "
              f"retries answered otherwise than first "
              f"{sum(len(b) > 1 for b in settle.bodies.values())}")  # fmt: skip
        report("bare insert", bare, "rows")
    finally:
        drop_database(ADMIN_URL, name)


if __name__ == "__main__":
    main()
