"""FHIR API throughput and latency on a live hub (loopback only, bounded in time).

    .venv/bin/python bench/fhir_api.py [--sizes 100000,1000000] [--duration 10]
                                       [--concurrency 32] [--quick]

One run: a fresh PostgreSQL database (dropped at the end), the hub under uvicorn with ONE worker
pinned to one core, and a bare FastAPI app (bench/bare_app.py, same uvicorn, same core) as the
framework ceiling, both driven by the same load client at the same concurrency. Phases, each
with a warm-up: create Patients (POST, Chinese names, resident ID), read by id, search by
resident ID (system|value, blind-indexed), search by name + birthdate. Then the database is
bulk-loaded (hub.fhir.bulk) to each of ``--sizes`` Patients and both searches run again, at the
run's concurrency and at concurrency 1 (unloaded latency). Last, create and read again on a hub
with one uvicorn worker per core, unpinned (``hub serve``'s default on PostgreSQL), printed beside
the one-worker figures. Prints req/s, p50 and p99, the ratios to the ceiling, the goals and
whether each is met, and how long each stage took.

The load client is wrk (installed with apt-get when missing, if possible), with a Lua script
for headers and bodies; without it, an aiohttp client in several processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_CPU, CLIENT_CPU = "1", "0"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
GOALS = {
    "create": "req/s >= 15% of the ceiling, p99 <= 10x p50",
    "read": "req/s >= 50% of the ceiling",
    "search identifier": "p99 <= 10 ms with 1,000,000 Patients stored",
}

LUA = r"""
-- One request per line of $BENCH_REQUESTS: METHOD<TAB>PATH<TAB>BODY (BODY may be empty).
local requests, counter = {}, 0
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
end

function init(args)
  local headers = {["Accept"] = "application/fhir+json",
                   ["Content-Type"] = "application/fhir+json"}
  local token = os.getenv("BENCH_TOKEN")
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local method, path, body = line:match("^(%u+)\t([^\t]*)\t(.*)$")
    if body == "" then body = nil end
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
  counter = ((tid or 1) * 7919) % #requests  -- threads start at different requests
end

function request()
  counter = counter % #requests + 1
  return requests[counter]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "errors": %d, "non_2xx": %d, '
    .. '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


@dataclass(frozen=True)
class Options:
    sizes: list[int]
    duration: float
    warmup: float
    concurrency: int
    admin_url: str


# --- small helpers -------------------------------------------------------------------------


def log(text: str) -> None:
    print(text, flush=True)


@contextmanager
def stage(name: str) -> Iterator[None]:
    started = time.monotonic()
    log(f"-- {name} ...")
    yield
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    log(f"   {name}: {time.monotonic() - started:.1f} s (load average {load})")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(cpu: str, command: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", cpu, *command]
    return command


def ensure_wrk() -> str | None:
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    log("wrk is missing: apt-get install -y wrk")
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        subprocess.run(command, check=False, capture_output=True, timeout=300)
    return shutil.which("wrk")


# --- the database and the servers ------------------------------------------------------------


def create_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"hub_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urllib.parse.urlsplit(admin_url)
    url = urllib.parse.urlunsplit(("postgresql+psycopg", parts.netloc, f"/{name}", "", ""))
    return name, url


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def configure_hub(database_url: str, var_dir: Path, port: int) -> None:
    """The hub's settings, through the environment, before anything imports hub.settings."""
    from hub.auth.signing_keys import generate_signing_key  # reads no settings

    os.environ.update(
        {
            "HUB_ENVIRONMENT": "test",
            "HUB_DATABASE_URL": database_url,
            "HUB_VAR_DIR": str(var_dir),
            "HUB_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "HUB_SIGNING_KEY": json.dumps(generate_signing_key("ES256")),
            "HUB_FIELD_KEYS": json.dumps({"bench": secrets.token_urlsafe(32)}),
            "HUB_FIELD_KEY_ID": "bench",
            "HUB_BLIND_INDEX_KEY": secrets.token_urlsafe(32),
            "HUB_TOKEN_TTL_SECONDS": "3600",
        }
    )


class Server:
    """uvicorn, access log off (for the hub and the ceiling): one worker pinned to SERVER_CPU,
    or ``workers`` processes left to the scheduler on every core (``hub serve``'s default)."""

    def __init__(self, app: str, port: int, log_path: Path, health: str, workers: int = 1) -> None:
        self.port = port
        self.log = log_path.open("wb")
        command = [
            sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            pinned(SERVER_CPU, command) if workers == 1 else command,
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait(f"http://127.0.0.1:{port}{health}", log_path)

    def _wait(self, url: str, log_path: Path) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start: {url}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.log.close()


# --- load clients ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    base_url: str
    requests: list[tuple[str, str, str]]  # method, path (with query), body
    token: str


class WrkClient:
    name = "wrk 4 (C, epoll), 2 threads pinned to the other core, Lua script for headers/bodies"

    def __init__(self, wrk: str, workdir: Path) -> None:
        self.wrk = wrk
        self.workdir = workdir
        self.script = workdir / "requests.lua"
        self.script.write_text(LUA)

    def run(self, load: Load, concurrency: int, seconds: float) -> Result:
        requests_file = self.workdir / f"requests-{uuid.uuid4().hex[:8]}.tsv"
        requests_file.write_text(
            "".join(f"{m}\t{p}\t{b}\n" for m, p, b in load.requests), encoding="utf-8"
        )
        threads = max(1, min(2, concurrency))
        command = pinned(
            CLIENT_CPU,
            [
                self.wrk, "-t", str(threads), "-c", str(concurrency),
                "-d", f"{max(1, round(seconds))}s", "--timeout", "10s",
                "-s", str(self.script), load.base_url,
            ],
        )  # fmt: skip
        env = dict(os.environ, BENCH_REQUESTS=str(requests_file), BENCH_TOKEN=load.token)
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        requests_file.unlink()
        line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
        if line is None:
            raise RuntimeError(f"wrk failed: {done.stdout[-1000:]} {done.stderr[-1000:]}")
        data = json.loads(line[len("BENCH ") :])
        return Result(
            "",
            data["requests"] / (data["duration_us"] / 1e6),
            data["p50_us"] / 1000,
            data["p99_us"] / 1000,
            data["errors"] + data["non_2xx"],
            data["requests"],
        )


def _aio_worker(args: tuple[Load, int, float, int]) -> tuple[list[float], int]:
    load, connections, seconds, offset = args
    return asyncio.run(_aio_loop(load, connections, seconds, offset))


async def _aio_loop(
    load: Load, connections: int, seconds: float, offset: int
) -> tuple[list[float], int]:
    import aiohttp

    headers = {"Accept": "application/fhir+json", "Content-Type": "application/fhir+json"}
    if load.token:
        headers["Authorization"] = f"Bearer {load.token}"
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    limit = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(load.base_url, headers=headers, connector=limit) as http:

        async def one(start: int) -> None:
            nonlocal errors
            index = start
            while time.monotonic() < deadline:
                method, path, body = load.requests[index % len(load.requests)]
                index += 1
                began = time.perf_counter()
                async with http.request(method, path, data=body.encode() or None) as response:
                    await response.read()
                    if response.status >= 400:
                        errors += 1
                latencies.append(time.perf_counter() - began)

        await asyncio.gather(*(one(offset + i * 7919) for i in range(connections)))
    return latencies, errors


class AiohttpClient:
    name = "aiohttp, one event loop per process, 2 processes"

    def run(self, load: Load, concurrency: int, seconds: float) -> Result:
        processes = max(1, min(2, concurrency))
        shares = [
            concurrency // processes + (i < concurrency % processes) for i in range(processes)
        ]
        started = time.monotonic()
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            parts = pool.map(_aio_worker, [(load, n, seconds, i) for i, n in enumerate(shares)])
        elapsed = time.monotonic() - started
        latencies = sorted(x for part, _ in parts for x in part)
        errors = sum(e for _, e in parts)
        if not latencies:
            raise RuntimeError("no request completed")
        pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
        return Result("", len(latencies) / elapsed, pick(0.5), pick(0.99), errors, len(latencies))


Client = WrkClient | AiohttpClient


def measure(client: Client, name: str, load: Load, opts: Options, concurrency: int) -> Result:
    client.run(load, concurrency, opts.warmup)
    result = client.run(load, concurrency, opts.duration)
    result = Result(name, result.rps, result.p50_ms, result.p99_ms, result.errors, result.requests)
    log(
        f"   {name:<34} c={concurrency:<3} {result.rps:8.0f} req/s  p50 {result.p50_ms:7.2f} ms"
        f"  p99 {result.p99_ms:7.2f} ms  errors {result.errors}"
    )
    if result.errors:
        log(f"   !! {result.errors} of {result.requests} requests failed (see the server log)")
    return result


# --- the hub's side: tokens, request lists, samples --------------------------------------------


def mint_token() -> str:
    from hub.auth.roles import DEFAULT_SCOPES, Role
    from hub.auth.service import get_issuer

    token, _ = get_issuer().issue(
        client_id="bench",
        facility="H001",
        role=Role.facility_system,
        scope=DEFAULT_SCOPES[Role.facility_system],
    )
    return token


def create_requests(count: int) -> list[tuple[str, str, str]]:
    import orjson

    from hub.demo.population import generate_residents, resident_to_patient

    bodies = (resident_to_patient(r) for r in generate_residents(count, seed=20_240_601))
    return [("POST", "/fhir/Patient", orjson.dumps(b).decode()) for b in bodies]


@dataclass(frozen=True)
class Sample:
    resource_id: str
    resident_id: str
    name: str
    birth_date: str


def sample_patients(limit: int, ids: list[str] | None = None) -> list[Sample]:
    """Stored Patients (decrypted as the hub would), for reads and searches that find them."""
    import orjson
    from sqlalchemy import select

    from hub.db import session_scope
    from hub.fhir.models import ResourceRow
    from hub.fhir.systems import RESIDENT_ID_SYSTEM
    from hub.security.fields import get_cipher, unseal_resource

    stmt = select(ResourceRow.content).where(
        ResourceRow.resource_type == "Patient", ResourceRow.deleted.is_(False)
    )
    stmt = stmt.where(ResourceRow.resource_id.in_(ids)) if ids else stmt.limit(limit)
    found: list[Sample] = []
    with session_scope() as session:
        for (content,) in session.execute(stmt):
            patient = unseal_resource(orjson.loads(content), get_cipher())
            resident = next(
                i["value"] for i in patient["identifier"] if i["system"] == RESIDENT_ID_SYSTEM
            )
            name = patient["name"][0]
            text = name.get("text") or name["family"] + "".join(name.get("given", []))
            found.append(Sample(patient["id"], resident, text, patient["birthDate"]))
    random.Random(7).shuffle(found)
    return found


def search_requests(samples: list[Sample]) -> dict[str, list[tuple[str, str, str]]]:
    from hub.fhir.systems import RESIDENT_ID_SYSTEM

    quote = urllib.parse.quote
    return {
        "read": [("GET", f"/fhir/Patient/{s.resource_id}", "") for s in samples],
        "search identifier": [
            (
                "GET",
                f"/fhir/Patient?identifier={quote(RESIDENT_ID_SYSTEM + '|' + s.resident_id)}",
                "",
            )
            for s in samples
        ],
        "search name+birthdate": [
            ("GET", f"/fhir/Patient?name={quote(s.name)}&birthdate={s.birth_date}", "")
            for s in samples
        ],
    }


def explain_searches(samples: list[Sample]) -> list[str]:
    """EXPLAIN ANALYZE of the page query the hub runs for one search of each kind."""
    from sqlalchemy import select

    from hub.auth.actor import SYSTEM_ACTOR
    from hub.db import session_scope
    from hub.fhir.models import ResourceRow
    from hub.fhir.search.engine import search_conditions
    from hub.fhir.search.params import parse_search
    from hub.fhir.search_parameters import RESOURCE_DEFS
    from hub.fhir.store import FhirStore
    from hub.fhir.systems import RESIDENT_ID_SYSTEM
    from hub.security.fields import get_cipher

    sample = samples[0]
    searches = {
        "identifier": [("identifier", f"{RESIDENT_ID_SYSTEM}|{sample.resident_id}")],
        "name+birthdate": [("name", sample.name), ("birthdate", sample.birth_date)],
    }
    lines: list[str] = []
    with session_scope() as session:
        store = FhirStore(session, SYSTEM_ACTOR, get_cipher())
        cursor = session.connection().connection.driver_connection.cursor()
        for label, params in searches.items():
            request = parse_search(
                "Patient", params, RESOURCE_DEFS, default_count=50, max_count=1000
            )
            stmt = (
                select(ResourceRow.rid)
                .where(*search_conditions(store, request))
                .order_by(ResourceRow.rid)
                .limit(request.count + 1)
            )
            compiled = stmt.compile(
                dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
            )
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + str(compiled), compiled.params)
            lines.append(f"   EXPLAIN ANALYZE, {label} search (page query):")
            lines.extend(f"     {row[0]}" for row in cursor.fetchall())
    return lines


def vacuum_tables() -> None:
    import psycopg

    from hub.fhir.bulk import bulk_tables

    url = os.environ["HUB_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"VACUUM (ANALYZE) {', '.join(bulk_tables())}")


def patient_count() -> int:
    from hub.seeding import patient_count as count

    return count()


# --- the run -----------------------------------------------------------------------------------


def run(opts: Options, workdir: Path) -> None:
    wrk = ensure_wrk()
    client: Client = WrkClient(wrk, workdir) if wrk else AiohttpClient()
    log(f"load client: {client.name}")
    log(
        f"server: uvicorn, 1 worker, pinned to CPU {SERVER_CPU} (taskset), access log off; "
        f"client on CPU {CLIENT_CPU}; PostgreSQL unpinned"
    )
    log(
        f"concurrency {opts.concurrency}, {opts.duration:.0f} s per phase after "
        f"{opts.warmup:.0f} s warm-up"
    )
    with stage("bare FastAPI ceiling"):
        port = free_port()
        bare = Server("bench.bare_app:app", port, workdir / "bare.log", "/ping")
        try:
            url = f"http://127.0.0.1:{port}"
            body = create_requests(1)[0][2]
            get_ping, post_ping = (
                Load(url, [("GET", "/ping", "")], ""),
                Load(url, [("POST", "/ping", body)], ""),
            )
            ceiling = measure(client, "bare GET /ping", get_ping, opts, opts.concurrency)
            ceiling_post = measure(client, "bare POST /ping", post_ping, opts, opts.concurrency)
        finally:
            bare.stop()

    hub_port = int(os.environ["HUB_PUBLIC_BASE_URL"].rsplit(":", 1)[1])
    with stage("hub start"):
        hub = Server("hub.asgi:app", hub_port, workdir / "hub.log", "/healthz")
    results: dict[str, Result] = {}
    growth: list[tuple[int, dict[str, Result]]] = []
    try:
        url = f"http://127.0.0.1:{hub_port}"
        with stage("phase: create"):
            load = Load(url, create_requests(5000), mint_token())
            results["create"] = measure(client, "create", load, opts, opts.concurrency)
        samples = sample_patients(5000)
        loads = search_requests(samples)
        for phase in ("read", "search identifier", "search name+birthdate"):
            with stage(f"phase: {phase}"):
                load = Load(url, loads[phase], mint_token())
                results[phase] = measure(client, phase, load, opts, opts.concurrency)
        growth.append((patient_count(), size_step(client, url, opts, samples)))
        for size in opts.sizes:
            with stage(f"bulk load to {size:,} seeded Patients (hub.fhir.bulk)"):
                from hub.seeding import seed_population_bulk

                started = time.monotonic()
                added = seed_population_bulk(size)
                took = time.monotonic() - started
                log(f"   {added:,} Patients loaded, {added / max(took, 1e-9):,.0f}/s")
            with stage("VACUUM (ANALYZE) after the load, so no autovacuum runs while measuring"):
                vacuum_tables()
            chosen = random.Random(size).sample(range(1, size + 1), min(size, 3000))
            picks = [f"res-0-{i:07d}" for i in chosen]
            size_samples = sample_patients(0, picks)
            growth.append((patient_count(), size_step(client, url, opts, size_samples)))
            for line in explain_searches(size_samples):
                log(line)
    finally:
        hub.stop()
    cores = os.cpu_count() or 1
    all_cores: dict[str, Result] = {}
    if cores > 1:
        with stage(f"hub on all {cores} cores (uvicorn --workers {cores}, unpinned)"):
            hub = Server("hub.asgi:app", hub_port, workdir / "hub-all.log", "/healthz", cores)
            try:
                url = f"http://127.0.0.1:{hub_port}"
                load = Load(url, create_requests(5000), mint_token())
                all_cores["create"] = measure(client, "create", load, opts, opts.concurrency)
                load = Load(url, search_requests(samples)["read"], mint_token())
                all_cores["read"] = measure(client, "read", load, opts, opts.concurrency)
            finally:
                hub.stop()
    report(client, opts, ceiling, ceiling_post, results, growth)
    if all_cores:
        log("")
        log(f"== one worker (pinned) beside {cores} workers (all cores; the load client and "
            "PostgreSQL share them)")  # fmt: skip
        log(f"{'phase':<10}{'1 worker req/s':>16}{'p99 ms':>9}{f'{cores} workers req/s':>18}"
            f"{'p99 ms':>9}")  # fmt: skip
        for phase, r in all_cores.items():
            one = results[phase]
            log(f"{phase:<10}{one.rps:16.0f}{one.p99_ms:9.2f}{r.rps:18.0f}{r.p99_ms:9.2f}")


def size_step(client: Client, url: str, opts: Options, samples: list[Sample]) -> dict[str, Result]:
    loads = search_requests(samples)
    step: dict[str, Result] = {}
    with stage(f"searches with {patient_count():,} Patients stored"):
        for phase in ("search identifier", "search name+birthdate"):
            load = Load(url, loads[phase], mint_token())
            loaded = measure(client, phase, load, opts, opts.concurrency)
            step[f"{phase} c={opts.concurrency}"] = loaded
            step[f"{phase} c=1"] = measure(client, phase, load, opts, 1)
    return step


def report(
    client: Client,
    opts: Options,
    ceiling: Result,
    ceiling_post: Result,
    results: dict[str, Result],
    growth: list[tuple[int, dict[str, Result]]],
) -> None:
    c = opts.concurrency
    log("")
    log(f"== FHIR API on one uvicorn worker, PostgreSQL; client: {client.name}; c={c}")
    log(f"{'phase':<26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'vs ceiling':>12}")
    rows = {"bare GET (ceiling)": ceiling, "bare POST + JSON body": ceiling_post, **results}
    for name, r in rows.items():
        log(f"{name:<26}{r.rps:9.0f}{r.p50_ms:9.2f}{r.p99_ms:9.2f}{r.rps / ceiling.rps:11.1%}")
    hub_best = max(r.rps for r in results.values())
    log(
        f"client check: the bare endpoint ran at {ceiling.rps / hub_best:.1f}x the hub's best "
        f"phase through the same client, so the client is not what limits the hub"
        if ceiling.rps > 2 * hub_best
        else "client check: WARNING, the bare endpoint is not well above the hub"
    )
    log("")
    log(f"== search latency growth (c={c} and c=1)")
    header = f"{'Patients':>10}"
    for phase in ("identifier", "name+birthdate"):
        header += f" | {phase + f' c={c}: req/s p50 p99':>34} | {'c=1: p50 p99 ms':>16}"
    log(header)
    for count, step in growth:
        line = f"{count:>10,}"
        for phase in ("search identifier", "search name+birthdate"):
            loaded, alone = step[f"{phase} c={c}"], step[f"{phase} c=1"]
            line += (
                f" | {loaded.rps:>16.0f} {loaded.p50_ms:8.2f} {loaded.p99_ms:8.2f}"
                f" | {alone.p50_ms:7.2f} {alone.p99_ms:8.2f}"
            )
        log(line)
    log("")
    log("== goals")
    create, read = results["create"], results["read"]
    ok = create.rps >= 0.15 * ceiling.rps and create.p99_ms <= 10 * create.p50_ms
    log(
        f"create: {GOALS['create']}: {create.rps / ceiling.rps:.1%} of the ceiling, "
        f"p99/p50 = {create.p99_ms / create.p50_ms:.1f} -> {'MET' if ok else 'NOT MET'}"
    )
    ok = read.rps >= 0.5 * ceiling.rps
    log(f"read: {GOALS['read']}: {read.rps / ceiling.rps:.1%} -> {'MET' if ok else 'NOT MET'}")
    count, step = growth[-1]
    loaded, alone = step[f"search identifier c={c}"], step["search identifier c=1"]
    log(
        f"search identifier: {GOALS['search identifier']}: with {count:,} stored, "
        f"p99 {loaded.p99_ms:.2f} ms at c={c} -> {'MET' if loaded.p99_ms <= 10 else 'NOT MET'}; "
        f"p99 {alone.p99_ms:.2f} ms at c=1 -> {'MET' if alone.p99_ms <= 10 else 'NOT MET'}"
        + ("" if count >= 1_000_000 else " (fewer than 1,000,000 stored: not the goal's size)")
    )


def parse_args() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="100000,1000000", help="seeded Patients per step")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--concurrency", type=int, default=32, help="open connections")
    parser.add_argument("--quick", action="store_true", help="small sizes, short phases")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="PostgreSQL server")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    duration = args.duration
    if args.quick:
        sizes, duration = [2_000, 10_000], min(duration, 3.0)
    if not 1 <= args.concurrency <= 256 or not 1 <= duration <= 120:
        parser.error("concurrency must be 1..256 and duration 1..120 s")
    warmup = max(1.0, min(3.0, duration / 3))
    return Options(sizes, duration, warmup, args.concurrency, args.admin_url)


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: servers, database


def main() -> None:
    opts = parse_args()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)  # also when started in the background (SIGINT ignored)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    with stage("database"):
        name, url = create_database(opts.admin_url)
        configure_hub(url, workdir / "var", free_port())
        from hub.migrate import upgrade_database
        from hub.wiring import wire

        wire()  # the write hooks: bulk loads run the derived-data ones (the consent summary)
        upgrade_database()
    try:
        run(opts, workdir)
    finally:
        from hub.db import reset_engine

        reset_engine()
        drop_database(opts.admin_url, name)
        log(f"database {name} dropped; logs in {workdir}")
        log(f"total: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
