"""HL7 v2 ingestion: parse rates, ACKs/s and fully processed messages/s over real MLLP sockets.

    .venv/bin/python bench/hl7_ingest.py [--messages 6000] [--connections 50]
        [--backends sqlite,postgresql] [--adt 3000] [--parse-seconds 2] [--budget 900]

1. Parse rates on the feed of bench/hl7_data.py, in this process, each for ``--parse-seconds``:
   a plain two-level split of already decoded text (the baseline), the hub's parser (bytes ->
   charset -> segments/fields), the parser plus the full mapping to FHIR, python-hl7 (if
   installed: ``pip install .[bench]``) and hl7apy's parser; and building an ACK with the hub's
   builder and with hl7apy.
2. Per backend: a fresh database, ``hub mllp`` as a subprocess; on PostgreSQL a Celery worker
   (``hub worker``, broker: the local Redis, a queue of this run's own); on SQLite processing
   in-process, as ``hub demo`` runs. ``--connections`` concurrent MLLP connections send the mix
   (ADT with PID/NK1/PV1/IN1, ORU, SIU); ACKs/s and ACK latency p50/p99 are measured at the
   client. Then the time until every accepted message is processed (mapped, indexed, stored)
   gives processed messages/s. A second run sends ``--adt`` ADT messages only (processed ADT/s).
   On PostgreSQL a third run sends the mix again with the worker started only after the last
   ACK: the listener's own capacity (ACKs/s, p50/p99 with no processing beside it on the cores)
   and the worker's own rate (processed/s, timed from its start).
Figures not measured are not printed; a stage that fails says so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench_db import fresh_database
from hl7_data import FeedMessage, feed

from adapters.hl7v2.ack import Envelope, build_ack
from adapters.hl7v2.charset import decode_message
from adapters.hl7v2.client import MllpClient
from adapters.hl7v2.mappings import MappingContext, map_message
from adapters.hl7v2.parse import parse_message

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"acks": 3000.0, "ack_p99_ms": 20.0, "processed_adt": 1000.0, "parser_share": 0.25}


def rate(label: str, work: Callable[[int], None], items: int, seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        work(done % items)
        done += 1
    per_second = done / (time.perf_counter() - start)
    print(f"  {label:<44} {per_second:>10,.0f} /s  ({done:,} in {seconds:.0f} s)")
    return per_second


def parse_rates(messages: list[FeedMessage], seconds: float) -> None:
    print("\n== parse rates (one core, this process)")
    texts = [decode_message(m.payload)[0] for m in messages]
    raws = [m.payload for m in messages]
    context = MappingContext(facility_code="H001", received_at=datetime.now(UTC), message_key="b")
    n = len(messages)
    baseline = rate("plain two-level split (decoded text)",
                    lambda i: [s.split("|") for s in texts[i].split("\r")], n, seconds)  # fmt: skip

    def hub_parse(i: int) -> None:
        text, charset = decode_message(raws[i])
        parse_message(text, charset)

    ours = rate("hub parser (bytes, charset, segments)", hub_parse, n, seconds)

    def hub_map(i: int) -> None:
        text, charset = decode_message(raws[i])
        map_message(parse_message(text, charset), context)

    rate("hub parser + mapping to FHIR", hub_map, n, seconds)
    try:
        import hl7  # python-hl7

        rate("python-hl7 hl7.parse", lambda i: hl7.parse(texts[i]), n, seconds)
    except ImportError:
        print("  python-hl7: not installed (pip install '.[bench]'), not measured")
    from hl7apy.parser import parse_message as hl7apy_parse

    rate("hl7apy parse_message", lambda i: hl7apy_parse(texts[i]), n, seconds)
    envelopes = [Envelope.of(parse_message(t)) for t in texts]
    rate("ACK, hub builder", lambda i: build_ack(envelopes[i], "AA"), n, seconds)
    from hl7apy.core import Message

    def hl7apy_ack(i: int) -> None:
        ack = Message("ACK", version="2.5")
        ack.msh.msh_3, ack.msh.msh_4 = "YICHANG-HUB", "YICHANG-HIE"
        ack.msh.msh_9, ack.msh.msh_10, ack.msh.msh_11 = "ACK^A01^ACK", str(i), "P"
        ack.msa.msa_1, ack.msa.msa_2 = "AA", envelopes[i].control_id
        ack.to_er7()

    rate("ACK, hl7apy", hl7apy_ack, n, seconds)
    share = ours / baseline
    print(f"  hub parser / plain split = {share:.2f} (goal >= {GOALS['parser_share']:.2f}: "
          f"{'met' if share >= GOALS['parser_share'] else 'NOT met'})")  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Hub:
    """``hub mllp`` (and on PostgreSQL ``hub worker``) as subprocesses on one database."""

    def __init__(self, url: str, workdir: Path, broker: bool, worker_later: bool = False) -> None:
        self.port = _free_port()
        self.env = dict(os.environ, HUB_DATABASE_URL=url, HUB_VAR_DIR=str(workdir / "var"),
                        HUB_CELERY_BROKER_URL="redis://127.0.0.1:6379/0" if broker else "",
                        HUB_CELERY_QUEUE=f"hub-bench-{uuid.uuid4().hex[:8]}")  # fmt: skip
        self.workdir = workdir
        self.broker = broker
        self.processes: list[subprocess.Popen[bytes]] = []
        self.hub = hub = [sys.executable, "-m", "hub.cli"]
        subprocess.run([*hub, "db", "upgrade"], env=self.env, check=True, capture_output=True)
        self._start("mllp", [*hub, "mllp", "--port", str(self.port)])
        if broker and not worker_later:
            self.start_worker()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the listener did not start")

    def start_worker(self) -> None:
        self._start("worker", [*self.hub, "worker", "--concurrency", "2", "--loglevel", "warning"])

    def _start(self, name: str, argv: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        self.processes.append(subprocess.Popen(argv, env=self.env, stdout=log,
                                               stderr=subprocess.STDOUT))  # fmt: skip

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


async def send_all(port: int, messages: list[FeedMessage], connections: int) -> list[float]:
    latencies: list[float] = []

    async def one(share: list[FeedMessage]) -> None:
        async with MllpClient("127.0.0.1", port) as client:
            for message in share:
                started = time.perf_counter()
                ack = await client.send(message.payload, timeout=60)
                latencies.append(time.perf_counter() - started)
                if b"MSA|AA|" not in ack:
                    raise RuntimeError(f"not accepted: {ack[:200]!r}")

    await asyncio.gather(*(one(messages[i::connections]) for i in range(connections)))
    return latencies


def waiting(url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM hl7_inbox WHERE status = 'received'"))
        value = int(count.scalar() or 0)
    engine.dispose()
    return value


def dead(url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = int(conn.execute(sa.text(
            "SELECT count(*) FROM hl7_inbox WHERE status = 'dead'")).scalar() or 0)  # fmt: skip
    engine.dispose()
    return value


def processing_span(url: str) -> float:
    """Seconds from the first to the last processed message (worker start-up left out)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    query = "SELECT min(processed_at), max(processed_at) FROM hl7_inbox WHERE status = 'processed'"
    with engine.connect() as conn:
        first, last = conn.execute(sa.text(query)).one()
    engine.dispose()
    return float((last - first).total_seconds()) if first and last else 0.0


def ingest(backend: str, messages: list[FeedMessage], connections: int, label: str,
           budget: float, worker_later: bool = False) -> dict[str, float]:  # fmt: skip
    """``worker_later`` (PostgreSQL): the worker starts after the last ACK; processed/s is then
    timed from its start and, start-up left out, from the first to the last processed message;
    the ACK figures are the listener's alone."""
    with (
        tempfile.TemporaryDirectory(prefix="hl7-bench-") as tmp,
        fresh_database(backend, Path(tmp)) as url,
    ):
        broker = backend == "postgresql"
        later = worker_later and broker
        hub = Hub(url, Path(tmp), broker=broker, worker_later=later)
        try:
            start = time.perf_counter()
            latencies = asyncio.run(send_all(hub.port, messages, connections))
            acked = time.perf_counter() - start
            if later:
                start = time.perf_counter()  # the worker's time starts now
                hub.start_worker()
            while waiting(url) and time.perf_counter() - start < budget:
                time.sleep(0.2)
            left = waiting(url)
            processed_at = time.perf_counter() - start
            failed = dead(url)
            span = processing_span(url) if later else 0.0
        finally:
            hub.close()
    latencies.sort()
    figures = {
        "acks_per_s": len(messages) / acked,
        "ack_p50_ms": statistics.median(latencies) * 1000,
        "ack_p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "processed_per_s": (len(messages) - left) / processed_at,
    }
    acks = "listener-alone ACKs/s" if later else "ACKs/s"
    processed = "processed (worker alone, from its start)" if later else "processed"
    if later and span > 0:
        figures["processed_span_per_s"] = (len(messages) - left) / span
        processed = (f"processed (worker alone) {figures['processed_span_per_s']:,.0f}/s from its "
                     "first to its last message, from its start")  # fmt: skip
    print(f"  {backend:<10} {label:<5} {len(messages):>6,} msgs, {connections} connections: "
          f"{figures['acks_per_s']:,.0f} {acks} (p50 {figures['ack_p50_ms']:.1f} ms, "
          f"p99 {figures['ack_p99_ms']:.1f} ms); {processed} {figures['processed_per_s']:,.0f}/s"
          f"{f' ({left} still waiting at the budget)' if left else ''}"
          f"{f', {failed} dead-lettered' if failed else ''}")  # fmt: skip
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--adt", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--parse-seconds", type=float, default=2.0)
    parser.add_argument("--budget", type=float, default=900.0, help="seconds per ingest run")
    parser.add_argument(
        "--no-split",
        action="store_true",
        help="skip the PostgreSQL run with the worker started after the ACKs",
    )
    args = parser.parse_args()
    print(f"bench/hl7_ingest.py on {os.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    parse_rates(feed(500), args.parse_seconds)
    mix, adt_only = feed(args.messages, seed=11), feed(args.adt, seed=12, adt_only=True)
    print("\n== ingestion over MLLP (client in this process, hub in subprocesses)")
    results: dict[str, dict[str, float]] = {}
    for backend in args.backends.split(","):
        try:
            results[f"{backend}/mix"] = ingest(backend, mix, args.connections, "mix", args.budget)
            results[f"{backend}/adt"] = ingest(backend, adt_only, args.connections, "ADT",
                                               args.budget)  # fmt: skip
            if backend == "postgresql" and not args.no_split:
                results[f"{backend}/split"] = ingest(backend, mix, args.connections, "mix",
                                                     args.budget, worker_later=True)  # fmt: skip
        except Exception as exc:  # report and go on with the next backend
            print(f"  {backend}: failed, not measured ({type(exc).__name__}: {exc})")
    pg_mix, pg_adt = results.get("postgresql/mix"), results.get("postgresql/adt")
    if pg_mix and pg_adt:
        print("\n== goals (PostgreSQL)")
        print(f"  ACKs/s {pg_mix['acks_per_s']:,.0f} (goal >= {GOALS['acks']:,.0f}); "
              f"ACK p99 {pg_mix['ack_p99_ms']:.1f} ms (goal <= {GOALS['ack_p99_ms']:.0f}); "
              f"processed ADT/s {pg_adt['processed_per_s']:,.0f} "
              f"(goal >= {GOALS['processed_adt']:,.0f})")  # fmt: skip
        split = results.get("postgresql/split")
        if split:
            print(f"  listener alone (no processing beside it): {split['acks_per_s']:,.0f} ACKs/s, "
                  f"ACK p99 {split['ack_p99_ms']:.1f} ms; worker alone: "
                  f"{split['processed_per_s']:,.0f} processed/s (mix) from its start"
                  + (f", {split['processed_span_per_s']:,.0f}/s first to last message"
                     if "processed_span_per_s" in split else ""))  # fmt: skip


if __name__ == "__main__":
    main()
