"""Splink's batch linkage on Spark beside DuckDB: the same settings, the same records, one run.

Both backends get the Splink baseline of the MPI benchmarks (bench/mpi_splink.py:
``splink_settings``, ``train``, ``predict``, ``cluster``: comparisons, blocking rules, prior, u
sampling, EM passes and thresholds fixed in advance) on the synthetic Chinese population of
bench/mpi_data.py, written once to a Parquet file that both read. Per backend it prints the wall
time of each stage (load, train, predict, cluster), the pairs predicted at >= 0.5, and pairwise
precision, recall and F1 of the clusters at 0.99 against the truth (which neither backend sees),
then how far the two clusterings agree. DuckDB is the baseline: the path bench/mpi_speed.py runs.

Spark runs on a local SparkSession (``local[N]``, the driver memory given, checkpoints and
shuffle files in a temporary folder under /tmp): a cluster's code path on one machine, so the
figure is what Spark costs here, not what a cluster gains. ``--max-seconds`` bounds each backend:
past it the running work is cancelled and the stages that finished are reported.

    .venv/bin/python bench/mpi_splink_spark.py --records 100000
    .venv/bin/python bench/mpi_splink_spark.py --records 1000000 --max-seconds 1800
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from mpi_data import chinese_set
from mpi_splink import VERSION, cluster, labels_from, predict, splink_settings, train
from splink import DuckDBAPI, Linker

from hub.mpi.matching.clustering import Metrics, pairwise_metrics

T = TypeVar("T")
STAGES = ("load", "train", "predict", "cluster")


@dataclass
class BackendRun:
    name: str
    seconds: dict[str, float] = field(default_factory=dict)
    pairs: int | None = None  # predicted at >= PREDICT_THRESHOLD
    labels: list[int] | None = None  # cluster per record at LINK_THRESHOLD
    error: str = ""


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


class Deadline:
    """Calls ``stop`` once ``seconds`` have passed, unless cancelled first."""

    def __init__(self, seconds: float, stop: Callable[[], None]) -> None:
        self.passed = False
        self._stop = stop
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.passed = True
        print(f"# max-seconds passed: stopping ({uptime()})", flush=True)
        self._stop()

    @contextmanager
    def running(self) -> Iterator[Deadline]:
        self._timer.start()
        try:
            yield self
        finally:
            self._timer.cancel()


def timed(run: BackendRun, stage: str, work: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = work()
    run.seconds[stage] = time.perf_counter() - start
    print(f"#   {run.name} {stage}: {run.seconds[stage]:.1f} s | {uptime()}", flush=True)
    return result


def link(run: BackendRun, records: Any, kind: str, n: int, labels_of: Callable[[Any], pa.Table],
         count: Callable[[Any], int]) -> None:  # fmt: skip
    """The shared stages on a registered table; ``labels_of`` and ``count`` read the backend's
    own tables (clusters as an Arrow table of unique_id, cluster_id; a row count)."""
    linker = Linker(records, splink_settings(kind), log_level=logging.ERROR)
    timed(run, "train", lambda: train(linker, kind))

    def predicted() -> Any:
        predictions = predict(linker)
        run.pairs = count(predictions)
        return predictions

    predictions = timed(run, "predict", predicted)
    run.labels = timed(
        run, "cluster", lambda: labels_from(labels_of(cluster(linker, predictions)).to_pylist(), n)
    )


def run_duckdb(path: str, kind: str, n: int, *, threads: int, memory: str,
               max_seconds: float) -> BackendRun:  # fmt: skip
    run = BackendRun("DuckDB")
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory})
    api = DuckDBAPI(con)
    try:
        with Deadline(max_seconds, con.interrupt).running() as deadline:
            try:
                records = timed(
                    run, "load", lambda: api.register(pq.read_table(path), table_name="records")
                )
                link(run, records, kind, n,
                     lambda t: con.sql(f"select unique_id, cluster_id from {t.physical_name}")
                     .to_arrow_table(),
                     lambda t: int(con.execute(f"select count(*) from {t.physical_name}")
                                   .fetchall()[0][0]))  # fmt: skip
            except Exception as exc:
                run.error = _stopped(exc, deadline)
    finally:
        con.close()
    return run


def run_spark(path: str, kind: str, n: int, *, cores: int, driver_memory: str, partitions: int,
              work_dir: str, max_seconds: float) -> BackendRun:  # fmt: skip
    from pyspark.sql import SparkSession
    from splink.backends.spark import SparkAPI, similarity_jar_location

    run = BackendRun("Spark")
    start = time.perf_counter()
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("hub-bench-splink")
        .config("spark.driver.memory", driver_memory)
        .config("spark.jars", similarity_jar_location())  # Splink's jaro_winkler etc.
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.default.parallelism", str(partitions))
        .config("spark.local.dir", os.path.join(work_dir, "local"))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(os.path.join(work_dir, "checkpoints"))
    print(f"# Spark {spark.version} session up in {time.perf_counter() - start:.1f} s (not "
          f"counted): {spark.sparkContext.master}, driver memory {driver_memory}, "
          f"{partitions} shuffle partitions", flush=True)  # fmt: skip
    api = SparkAPI(spark_session=spark, num_partitions_on_repartition=partitions)

    def stop() -> None:  # cancelling alone lets Splink start its next job: stop the session too
        spark.sparkContext.cancelAllJobs()
        spark.stop()

    try:
        with Deadline(max_seconds, stop).running() as deadline:
            try:

                def load() -> Any:
                    frame = spark.read.parquet(path).repartition(partitions).persist()
                    frame.count()
                    return api.register(frame, table_name="records")

                records = timed(run, "load", load)
                link(run, records, kind, n,
                     lambda t: t.as_spark_dataframe().select("unique_id", "cluster_id").toArrow(),
                     lambda t: t.as_spark_dataframe().count())  # fmt: skip
            except Exception as exc:
                run.error = _stopped(exc, deadline)
    finally:
        spark.stop()
    return run


def _stopped(exc: Exception, deadline: Deadline) -> str:
    if deadline.passed:
        return "stopped at max-seconds"
    text = f"{type(exc).__name__}: {exc}"
    print(f"# FAILED: {text[:2000]}", flush=True)
    return text[:300]


def write_records(n: int, seed: int, path: str) -> list[int]:
    """The first ``n`` registrations as Splink columns in Parquet; returns the truth."""
    data = chinese_set(n, seed=seed, engine_features=False)
    columns: dict[str, Any] = dict(data.columns)
    columns["unique_id"] = pa.array(range(n), type=pa.int64())
    pq.write_table(pa.table(columns), path)
    return data.truth


def report(runs: list[BackendRun], truth: list[int]) -> None:
    print("\n| backend | " + " | ".join(f"{s} s" for s in STAGES)
          + " | total s | pairs >= 0.5 | clusters | precision | recall | F1 |")  # fmt: skip
    print("|---" * (len(STAGES) + 7) + "|")
    for run in runs:
        cells = [f"{run.seconds[s]:.1f}" if s in run.seconds else "-" for s in STAGES]
        total = sum(run.seconds.values())
        metrics: Metrics | None = pairwise_metrics(run.labels, truth) if run.labels else None
        found = (f"{metrics.precision:.4f} | {metrics.recall:.4f} | {metrics.f1:.4f}"
                 if metrics else "- | - | -")  # fmt: skip
        pairs = f"{run.pairs:,}" if run.pairs is not None else "-"
        clusters = f"{len(set(run.labels)):,}" if run.labels else "-"
        print(f"| {run.name} | " + " | ".join(cells) + f" | {total:.1f} | {pairs} | {clusters} "
              f"| {found} |" + (f" {run.error}" if run.error else ""))  # fmt: skip
    done = [r for r in runs if r.labels is not None]
    if len(done) == 2:
        first, second = done
        agree = pairwise_metrics(second.labels or [], first.labels or [])
        ratio = sum(second.seconds.values()) / sum(first.seconds.values())
        print(f"\n# {second.name} / {first.name}: total time x{ratio:.2f}; their clusterings "
              f"agree on pairs: F1 {agree.f1:.4f} (P {agree.precision:.4f}, R "
              f"{agree.recall:.4f}, {second.name} against {first.name})")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--backends", default="duckdb,spark")
    parser.add_argument("--cores", type=int, default=2, help="DuckDB threads, Spark local[N]")
    parser.add_argument("--driver-memory", default="6g", help="Spark's driver (local mode)")
    parser.add_argument("--duckdb-memory", default="6GB", help="DuckDB's memory_limit")
    parser.add_argument("--partitions", type=int, default=8, help="Spark shuffle partitions")
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="per backend")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    started = time.perf_counter()
    print(f"# Splink {VERSION} on DuckDB {duckdb.__version__} and Spark: {args.records:,} "
          f"records, seed {args.seed}, {os.cpu_count()} CPUs | {uptime()}", flush=True)  # fmt: skip
    work_dir = tempfile.mkdtemp(prefix="hub-bench-splink-", dir="/tmp")
    try:
        path = os.path.join(work_dir, "records.parquet")
        start = time.perf_counter()
        truth = write_records(args.records, args.seed, path)
        print(f"# records generated and written to Parquet in {time.perf_counter() - start:.0f} s "
              f"({os.path.getsize(path) / 2**20:.0f} MiB; {len(set(truth)):,} persons)",
              flush=True)  # fmt: skip
        runs: list[BackendRun] = []
        for backend in backends:
            print(f"# {backend} | {uptime()}", flush=True)
            if backend == "duckdb":
                runs.append(run_duckdb(path, "chinese", args.records, threads=args.cores,
                                       memory=args.duckdb_memory,
                                       max_seconds=args.max_seconds))  # fmt: skip
            elif backend == "spark":
                runs.append(run_spark(path, "chinese", args.records, cores=args.cores,
                                      driver_memory=args.driver_memory,
                                      partitions=args.partitions, work_dir=work_dir,
                                      max_seconds=args.max_seconds))  # fmt: skip
            else:
                parser.error(f"unknown backend {backend}")
        report(runs, truth)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    print(f"\n# total {time.perf_counter() - started:.0f} s | {uptime()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
