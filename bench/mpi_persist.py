"""Persistence for bench/mpi_speed.py: a throwaway database, a bulk preload, registrations.

The preload builds every row with the helpers of hub.mpi.store (sealed features, content hash,
keyed block keys, blind-indexed and sealed identifiers) and writes them with COPY (PostgreSQL)
or one executemany per table (SQLite): the hub has no bulk path of its own into the index.
Registrations go through hub.mpi.registration.online.register_source (one call per record) and
through hub.mpi.registration.batch.register_sources (one call per transaction) in forked worker
processes, ``BATCH`` records per transaction, each worker stopping at a deadline so a slow backend
stays bounded. The functions they call are wrapped with timers inside the workers (not in the
parent).
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import shutil
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from mpi_data import LinkageSet
from sqlalchemy.exc import DBAPIError

from hub.mpi.matching.compare import record_keys
from hub.mpi.matching.features import MatchFeatures
from hub.mpi.matching.model import MatchModel

BATCH = 100  # registrations per transaction
SINGLE = "register_source"  # one call per record, BATCH calls per transaction
BATCHED = "register_sources"  # one call per transaction of BATCH records
PROFILED = "register_sources, profiled"  # --profile: one more batch run under pyinstrument
CACHE_ON, CACHE_OFF = "register_sources, cache on", "register_sources, cache off"  # --cache-ab
CACHE_AB_RUNS = 4  # on, off, on, off: the same load for both
CONFIGURATIONS_PER_WORKER_COUNT = 2  # SINGLE and BATCHED; + 1 write-only baseline in all


def use_database(url: str) -> None:
    """Point the hub at ``url`` (settings, engine and cipher are cached per process)."""
    from hub.db import reset_engine
    from hub.security.fields import get_cipher
    from hub.settings import get_settings

    os.environ["HUB_DATABASE_URL"] = url
    get_settings.cache_clear()
    get_cipher.cache_clear()
    reset_engine()


def preload(indexed: LinkageSet, persons: list[int]) -> dict[str, float]:
    """Write the N records with the store's helpers; returns seconds per part and row counts."""
    from hub.db import get_engine
    from hub.mpi import store as db
    from hub.mpi.models import SourceRow
    from hub.security.fields import get_cipher

    cipher = get_cipher()
    now = datetime.now(UTC)
    start = time.perf_counter()
    person_ids: dict[int, int] = {}
    person_rows: list[tuple[Any, ...]] = []
    source_rows: list[tuple[Any, ...]] = []
    key_rows: list[tuple[int, str]] = []
    id_rows: list[tuple[Any, ...]] = []
    for i, f in enumerate(indexed.features):
        cluster = persons[i]
        pid = person_ids.get(cluster)
        state = "auto"
        if pid is None:
            pid = person_ids[cluster] = len(person_ids) + 1
            person_rows.append((pid, "YC" + secrets.token_hex(6).upper(), "active", None, "",
                                now, now))  # fmt: skip
            state = "new"
        sid = i + 1
        facility, source_id = indexed.source_keys[i]
        source_rows.append((sid, facility, source_id, None, pid, state, None,
                            db.seal_features(cipher, f), db.content_hash(f),
                            ",".join(f.flags)[:255], now))  # fmt: skip
        key_rows += [(sid, k) for k in sorted({db.key_index(cipher, k) for k in record_keys(f)})]
        view = cast(SourceRow, SimpleNamespace(facility=facility, source_id=source_id))
        id_rows += [
            (sid, pid, system[:255], db.identifier_index(cipher, system, value),
             cipher.encrypt(value), valid)
            for system, value, valid in db.identifier_entries(view, f)
        ]  # fmt: skip
    prepared = time.perf_counter()
    tables = {
        "mpi_person": ("id, enterprise_id, status, merged_into, golden, created, updated",
                       person_rows),
        "mpi_source": ("id, facility, source_id, patient_id, person_id, state, score, features, "
                       "content_hash, flags, updated", source_rows),
        "mpi_block_key": ("source_row, key", key_rows),
        "mpi_identifier": ("source_row, person_id, system, value_index, value, valid", id_rows),
    }  # fmt: skip
    engine = get_engine()
    raw = engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        if engine.dialect.name == "postgresql":
            with driver.cursor() as cursor:
                for table, (columns, rows) in tables.items():
                    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                for table in ("mpi_person", "mpi_source"):
                    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                   f"(SELECT max(id) FROM {table}))")  # fmt: skip
            driver.commit()
            written = time.perf_counter()
            with driver.cursor() as cursor:
                cursor.execute("ANALYZE mpi_person, mpi_source, mpi_block_key, mpi_identifier")
            driver.commit()
        else:
            stamp = now.replace(tzinfo=None).isoformat(sep=" ")
            cursor = driver.cursor()
            cursor.execute("BEGIN")
            for table, (columns, rows) in tables.items():
                marks = ", ".join("?" for _ in columns.split(","))
                fixed = [tuple(stamp if isinstance(v, datetime) else v for v in r) for r in rows]
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", fixed)
            cursor.execute("COMMIT")
            written = time.perf_counter()
            cursor.execute("ANALYZE")
    finally:
        raw.close()
    done = time.perf_counter()
    return {
        "prepare": prepared - start, "write": written - prepared, "analyze": done - written,
        "persons": len(person_rows), "sources": len(source_rows), "keys": len(key_rows),
        "identifiers": len(id_rows),
    }  # fmt: skip


SHARED: dict[str, Any] = {}  # set before forking: the held-out features, their source keys


class _Timers:
    """Time spent in the functions register_source calls (patched in the worker process)."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def wrap(self, module: Any, name: str, label: str) -> None:
        original = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start

        setattr(module, name, timed)


def _write_only(session: Any, cipher: Any, facility: str, source_id: str, f: MatchFeatures) -> None:
    """Baseline: what register_source writes for a new person, without the match decision."""
    from hub.mpi import store as db
    from hub.mpi.models import LinkEventRow, SourceRow

    now = datetime.now(UTC)
    person = db.new_person(session, now)
    source = SourceRow(
        facility=facility, source_id=source_id, patient_id=None, person_id=person.id,
        state="new", score=None, features=db.seal_features(cipher, f),
        content_hash=db.content_hash(f), flags=",".join(f.flags)[:255], updated=now,
    )  # fmt: skip
    session.add(source)
    session.flush()
    db.write_keys(session, cipher, source, record_keys(f), replace=False)
    db.write_identifiers(session, cipher, source, f, replace=False)
    session.add(LinkEventRow(at=now, action="new", source_row=source.id, from_person=None,
                             to_person=person.id, score=None, actor="bench",
                             reason="decision new"))  # fmt: skip
    db.refresh_golden(session, cipher, person, only=source)


def _register_worker(task: tuple[list[int], str, float]) -> dict[str, Any]:
    positions, mode, deadline = task
    if mode == "batch-profiled":  # the batch path under pyinstrument; its text report kept
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        with profiler:
            out = _register_worker((positions, "batch", deadline))
        out["profile"] = profiler.output_text(unicode=True, show_all=False, short_mode=False)
        return out
    if mode == "batch-no-cache":  # this forked worker only: the feature cache off
        from hub.settings import get_settings

        os.environ["HUB_MPI_FEATURE_CACHE_SIZE"] = "0"
        get_settings.cache_clear()
        return _register_worker((positions, "batch", deadline))
    import hub.mpi.registration.batch as registration
    import hub.mpi.registration.online as service
    import hub.mpi.store as store
    from hub.audit.service import flush_pending_audit
    from hub.db import new_session
    from hub.security.fields import get_cipher

    timers = _Timers()
    if mode == "batch":
        wrapped = (
            (store, "lock_hashed", "lock keys"),
            (registration, "active_model", "active model"),
            (registration, "_stored_candidates", "candidate keys"),
            (registration, "_open", "open candidates"),
            (registration, "decide_batch", "score + decide"),
            (registration, "write_batch", "write rows + golden"),
        )
    else:
        wrapped = (
            (store, "lock_hashed", "lock keys"),
            (service, "active_model", "active model"),
            (service, "_candidates", "find + score candidates"),
            (store, "write_keys", "write keys"),
            (store, "write_identifiers", "write identifiers"),
            (store, "refresh_golden", "golden record"),
        )
    for module, name, label in wrapped:  # fmt: skip
        timers.wrap(module, name, label)
    cipher = get_cipher()
    features: list[MatchFeatures] = SHARED["features"]
    keys: list[tuple[str, str]] = SHARED["keys"]
    latencies: list[float] = []
    commits: list[float] = []
    decisions: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    begin = time.time()
    for at in range(0, len(positions), BATCH):
        if time.time() >= deadline:
            break
        for attempt in range(3):  # a deadlock or serialisation failure: retry the batch
            session = new_session()
            done: list[float] = []
            outcomes: Counter[str] = Counter()
            try:
                chunk = positions[at : at + BATCH]
                if mode == "batch":
                    start = time.perf_counter()
                    items = [registration.Registration(*keys[p], None, features[p], "bench")
                             for p in chunk]  # fmt: skip
                    for outcome in registration.register_sources(session, cipher, items):
                        outcomes[outcome.decision] += 1
                    done += [(time.perf_counter() - start) * 1e3 / len(chunk)] * len(chunk)
                for p in chunk if mode != "batch" else ():
                    facility, source_id = keys[p]
                    start = time.perf_counter()
                    if mode == "write-only":
                        _write_only(session, cipher, facility, source_id, features[p])
                        outcomes["new (no decision)"] += 1
                    else:
                        outcome = service.register_source(
                            session, cipher, facility=facility, source_id=source_id,
                            patient_id=None, features=features[p], actor="bench",
                        )  # fmt: skip
                        outcomes[outcome.decision] += 1
                    done.append((time.perf_counter() - start) * 1e3)
                start = time.perf_counter()
                flush_pending_audit(session)
                session.commit()
                commits.append((time.perf_counter() - start) * 1e3)
                latencies += done
                decisions.update(outcomes)
                break
            except DBAPIError as exc:
                session.rollback()
                failures["deadlock" if "deadlock" in str(exc).lower() else type(exc).__name__] += 1
                if attempt == 2:
                    failures["batch given up"] += 1
            finally:
                session.close()
    return {"begin": begin, "end": time.time(), "latencies": latencies, "commits": commits,
            "decisions": decisions, "components": dict(timers.seconds),
            "failures": failures, "cache": _feature_cache_counts()}  # fmt: skip


def _feature_cache_counts() -> Counter[str]:
    """This worker's hits and misses of the patient index's feature cache (absent before it)."""
    try:
        from hub.mpi.feature_cache import process_cache
    except ImportError:
        return Counter()
    stats = process_cache().stats()
    return Counter(hits=stats.hits, misses=stats.misses)


@dataclass
class Throughput:
    backend: str
    workers: int
    mode: str  # single | batch | write-only
    count: int
    seconds: float
    latencies: list[float]
    commits: list[float]
    decisions: Counter[str]
    components: dict[str, float]
    planned: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    label: str = ""
    cache: Counter[str] = field(default_factory=Counter)  # feature cache hits and misses
    profiles: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.count / self.seconds


def register_all(
    backend: str, positions: list[int], workers: int, mode: str, max_seconds: float
) -> Throughput:
    from hub.db import reset_engine

    reset_engine()  # no pooled connection crosses the fork
    chunks = [positions[w::workers] for w in range(workers)]
    context = multiprocessing.get_context("fork")
    deadline = time.time() + max_seconds
    with context.Pool(workers) as pool:
        results = pool.map(_register_worker, [(c, mode, deadline) for c in chunks])
    latencies = [x for r in results for x in r["latencies"]]
    components: defaultdict[str, float] = defaultdict(float)
    decisions: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    for r in results:
        failures.update(r["failures"])
        for label, seconds in r["components"].items():
            components[label] += seconds
        decisions.update(r["decisions"])
    seconds = max(r["end"] for r in results) - min(r["begin"] for r in results)
    return Throughput(backend, workers, mode, len(latencies), seconds, latencies,
                      [x for r in results for x in r["commits"]], decisions,
                      components, len(positions), failures,
                      profiles=[r["profile"] for r in results if "profile" in r],
                      cache=sum((r["cache"] for r in results), Counter()))  # fmt: skip


@contextmanager
def database(backend: str, admin_url: str) -> Iterator[str]:
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="bench-mpi-")
        try:
            yield f"sqlite:///{folder}/hub.db"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    import psycopg

    name = f"bench_mpi_{os.environ.get('BENCH_DB_TAG', '')}{uuid.uuid4().hex[:8]}"  # tag: whose
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        yield f"{base}/{name}"
    finally:
        from hub.db import reset_engine

        reset_engine()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class BackendResult:
    backend: str
    schema_seconds: float = 0.0
    preload: dict[str, float] = field(default_factory=dict)
    runs: list[Throughput] = field(default_factory=list)
    error: str = ""


def run_backend(
    backend: str,
    admin_url: str,
    indexed: LinkageSet,
    persons: list[int],
    model: MatchModel,
    slices: list[list[int]],
    workers: list[int],
    max_seconds: float,
    profile: bool = False,
    cache_ab: bool = False,
) -> BackendResult:
    from hub.db import session_scope
    from hub.migrate import upgrade_database
    from hub.mpi.training.registry import activate_model

    out = BackendResult(backend)
    with database(backend, admin_url) as url:
        use_database(url)
        start = time.perf_counter()
        upgrade_database()
        out.schema_seconds = time.perf_counter() - start
        print(f"# {backend}: schema in {out.schema_seconds:.1f} s; preloading ...", flush=True)
        out.preload = preload(indexed, persons)
        print(f"# {backend}: preload {preload_text(out.preload)}", flush=True)
        with session_scope() as session:
            activate_model(session, model)
        plan = [(w, "single", SINGLE) for w in workers]
        plan += [(w, "batch", BATCHED) for w in workers]
        plan += [(1, "write-only", "write-only baseline")]
        plan += [(1, "batch-profiled", PROFILED)] if profile else []
        ab = [(max(workers), "batch", CACHE_ON), (max(workers), "batch-no-cache", CACHE_OFF)]
        plan += ab * (CACHE_AB_RUNS // 2) if cache_ab else []
        for k, (w, mode, label) in enumerate(plan):
            result = register_all(backend, slices[k % len(slices)], w, mode, max_seconds)
            result.label = label
            out.runs.append(result)
            print(f"# {backend}: {label} x{w}: {result.per_second:,.0f}/s", flush=True)
        use_database(url)  # the parent's engine, disposed before the database is dropped
    return out


def preload_text(p: dict[str, float]) -> str:
    return (f"{p['sources']:,.0f} sources, {p['persons']:,.0f} persons, {p['keys']:,.0f} block "
            f"keys, {p['identifiers']:,.0f} identifiers: prepare {p['prepare']:.1f} s, write "
            f"{p['write']:.1f} s, analyze {p['analyze']:.1f} s")  # fmt: skip
