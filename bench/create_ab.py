"""FHIR Observation creates over HTTP, this checkout beside another (an earlier commit's
worktree), alternating, in one run (loopback, PostgreSQL, bounded in time).

    .venv/bin/python bench/create_ab.py --baseline /path/to/other/checkout [--rounds 3]
                                        [--seconds 20] [--threads 8]

Each round, for each checkout in turn: a fresh PostgreSQL database (dropped at the end), the hub
of that checkout under uvicorn with one worker pinned to one core (bench/fhir_api.py's Server,
run with that checkout's Python), 20 Patients, then ``--threads`` clients POSTing Observations
on them for ``--seconds`` (after a 3 s warm-up). Prints creates/s and p50 per run and the
median per checkout. The other checkout needs its own venv (``.venv``) with the hub installed.
Observations reach no patient-index registration: the figure is the store's write path (
validation, references, rows, hooks, audit) over HTTP.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

ONE_RUN = r"""
import json, os, sys, tempfile, threading, time
from pathlib import Path
sys.path.insert(0, os.getcwd())
from bench.fhir_api import (DEFAULT_ADMIN_URL, Server, configure_hub, create_database,
                            create_requests, drop_database, free_port, mint_token)
import httpx
seconds = float(sys.argv[1]); threads = int(sys.argv[2])
name, url = create_database(DEFAULT_ADMIN_URL)
work = Path(tempfile.mkdtemp()); port = free_port()
configure_hub(url, work / "var", port)
from hub.migrate import upgrade_database
upgrade_database()
server = Server("hub.asgi:app", port, work / "hub.log", "/healthz")
try:
    headers = {"Authorization": f"Bearer {mint_token()}", "Content-Type": "application/fhir+json"}
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, headers=headers) as client:
        patients = [client.post("/fhir/Patient", content=body).json()["id"]
                    for _, _, body in create_requests(20)]
    def observation(n):
        return json.dumps({"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{patients[n % 20]}"},
            "valueQuantity": {"value": 60 + n % 40, "unit": "/min",
                              "system": "http://unitsofmeasure.org", "code": "/min"}})
    counter = iter(range(10**9)); stop = time.monotonic() + seconds + 3
    done, errors, lock = [], [], threading.Lock()
    def client_loop():
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            while time.monotonic() < stop:
                n = next(counter); start = time.perf_counter()
                answer = client.post("/fhir/Observation", content=observation(n))
                with lock:
                    done.append((time.monotonic(), time.perf_counter() - start))
                    if answer.status_code != 201: errors.append(answer.status_code)
    workers = [threading.Thread(target=client_loop) for _ in range(threads)]
    for w in workers: w.start()
    for w in workers: w.join()
    counted = sorted(l for t, l in done if t >= stop - seconds)
    print(json.dumps({"rate": len(counted) / seconds, "p50_ms": 1000 * counted[len(counted) // 2],
                      "errors": len(errors), "load": os.getloadavg()[0]}))
finally:
    server.stop(); drop_database(DEFAULT_ADMIN_URL, name)
"""


def one_run(checkout: Path, seconds: float, threads: int) -> dict[str, float]:
    python = checkout / ".venv" / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", ONE_RUN, str(seconds), str(threads)], cwd=checkout,
        capture_output=True, text=True, timeout=seconds + 180, check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=8)
    opts = parser.parse_args()
    checkouts = {"this": HERE, "baseline": opts.baseline.resolve()}
    print(f"load average at the start: {os.getloadavg()}")
    rates: dict[str, list[float]] = {name: [] for name in checkouts}
    for round_no in range(1, opts.rounds + 1):
        for name, checkout in checkouts.items():
            result = one_run(checkout, opts.seconds, opts.threads)
            rates[name].append(result["rate"])
            print(f"round {round_no} {name:8} {result['rate']:7.1f} creates/s  "
                  f"p50 {result['p50_ms']:7.1f} ms  errors {result['errors']:.0f}  "
                  f"load {result['load']:.1f}", flush=True)  # fmt: skip
    for name, found in rates.items():
        print(f"{name:8} median {statistics.median(found):7.1f} creates/s over {len(found)} runs "
              f"({checkouts[name]})")  # fmt: skip
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    sys.exit(main())
