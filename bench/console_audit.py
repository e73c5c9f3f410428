"""The fund auditor's console pages' server time with 100,000 findings (PostgreSQL, loopback).

    .venv/bin/python bench/console_audit.py [--findings 100000] [--residents 10000]
                                            [--requests 10] [--seconds 20] [--quick]
                                            [--vacuum]

One run: a fresh PostgreSQL database (dropped at the end); the region seeded, ``--residents``
synthetic residents (``hub seed --population --bulk``'s path) and ``--findings`` claims-audit
findings (``DetectedIssue``, as the claims audit writes them: eight rules, the region's first
twenty hospitals, identified over the last 365 days, about a twelfth in the current month)
bulk-loaded through ``hub.fhir.bulk`` (then ANALYZE; with ``--vacuum`` VACUUM ANALYZE, the
steady state autovacuum reaches in time). The findings name claims the database does not hold
(the loader lets the hub's claims-audit identity write dangling references), so a finding's
evidence page reads records that are not there: its figure is a lower bound. Then the hub under
uvicorn (one worker, pinned to one core, as bench/fhir_api.py runs it), an auditor signed in
through the sign-in form with its TOTP code, and each page requested one after another, as a
person clicks: ``--requests`` times or ``--seconds`` seconds per page, whichever ends first,
after one warm-up request (each request times out after 120 s). Prints per page the count, p50
and p99 (milliseconds at the client, on loopback) beside the same run's baseline (``/healthz``
and a bare FHIR read by id), and whether the goal (<= 300 ms per page, issue 20) is met.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from console import Timing, staff_session, time_page
from fhir_api import (
    DEFAULT_ADMIN_URL,
    Server,
    configure_hub,
    create_database,
    drop_database,
    free_port,
    stage,
)

GOAL_MS = 300.0
BATCH = 2000
TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Options:
    findings: int
    residents: int
    requests: int
    seconds: float
    admin_url: str
    vacuum: bool


def parse_args() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=10, help="per page")
    parser.add_argument("--seconds", type=float, default=20.0, help="at most, per page")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--quick", action="store_true", help="10,000 findings, 5 requests")
    vacuum = "VACUUM ANALYZE after the load, as autovacuum does in time"
    parser.add_argument("--vacuum", action="store_true", help=vacuum)
    args = parser.parse_args()
    if args.quick:
        args.findings, args.requests = min(args.findings, 10_000), min(args.requests, 5)
    return Options(args.findings, args.residents, args.requests, args.seconds, args.admin_url,
                   args.vacuum)  # fmt: skip


def load_findings(count: int, residents: int, today: date) -> None:
    """``count`` findings as the claims audit writes them, through the bulk loader."""
    from hub.db import session_scope
    from hub.fhir.bulk import bulk_create
    from hub.region.facilities import load_facilities
    from hub.security.fields import get_cipher
    from insurance.claims_audit.codes import PATTERN_CODES, Severity
    from insurance.claims_audit.detected_issue import detected_issue, finding_id
    from insurance.claims_audit.findings import Finding
    from insurance.claims_audit.service import CLAIMS_AUDIT_ACTOR

    hospitals = [f.code for f in load_facilities() if f.code.startswith("H")][:20]
    rng = random.Random(20)
    now = datetime.now(UTC)
    for start in range(0, count, BATCH):
        bodies = []
        for n in range(start, min(start + BATCH, count)):
            back = rng.randrange(365) if n % 12 else rng.randrange(today.day)
            finding = Finding(
                rule=rng.choice(PATTERN_CODES), severity=Severity.MODERATE,
                facility=rng.choice(hospitals), person=f"res-0-{rng.randint(1, residents):07d}",
                day=today - timedelta(days=back), amount_fen=rng.randint(100, 500_000),
                detail=f"bench finding {n}", basis=str(n), claims=(f"bench-claim-{n}",),
            )  # fmt: skip
            body = detected_issue(finding, now - timedelta(days=back))
            body["id"] = finding_id(finding.key)
            bodies.append(body)
        with session_scope() as session:
            bulk_create(session, "DetectedIssue", bodies, actor=CLAIMS_AUDIT_ACTOR,
                        cipher=get_cipher())  # fmt: skip


def run(opts: Options, workdir: Path) -> list[Timing]:
    from hub.migrate import upgrade_database
    from hub.seeding import seed_population_bulk, seed_region
    from hub.wiring import wire

    wire()  # the write hooks and subscribers, as the app has them
    today = datetime.now(UTC).date()
    with stage("schema, region and residents"):
        upgrade_database()
        seed_region()
        seed_population_bulk(opts.residents)
    with stage(f"{opts.findings:,} findings bulk-loaded, then ANALYZE"):
        load_findings(opts.findings, opts.residents, today)
        from hub.db import session_scope
        from hub.fhir.bulk import analyze_tables

        with session_scope() as session:
            analyze_tables(session)
    if opts.vacuum:  # the visibility map set, so index-only scans read no table pages
        with (
            stage("VACUUM ANALYZE"),
            psycopg.connect(
                os.environ["HUB_DATABASE_URL"].replace("+psycopg", ""), autocommit=True
            ) as conn,
        ):
            conn.execute("VACUUM ANALYZE")
    port = int(os.environ["HUB_PUBLIC_BASE_URL"].rsplit(":", 1)[1])
    hub = Server("hub.asgi:app", port, workdir / "hub.log", "/healthz")
    timings: list[Timing] = []
    try:
        base = f"http://127.0.0.1:{port}"
        with closing(staff_session(base, "auditor", "HUB", timeout=TIMEOUT_S)) as client:
            month = f"{today:%Y-%m}"
            listing = client.get(f"/console/auditor/findings?month={month}").text
            finding = re.search(r'data-finding="([^"]+)"', listing)
            assert finding is not None, "no finding listed"
            fhir = httpx.Client(base_url=base, timeout=TIMEOUT_S,
                                headers={"Authorization": f"Bearer {_fhir_token()}"})  # fmt: skip
            with fhir:
                timings.append(time_page(fhir, "baseline /healthz", "/healthz", opts))
                read = f"/fhir/DetectedIssue/{finding.group(1)}"
                timings.append(time_page(fhir, "baseline FHIR read by id", read, opts))
            pages = {
                "findings by rule and facility (month)": f"/console/auditor?month={month}",
                "findings list (month, page 1)": f"/console/auditor/findings?month={month}",
                "a finding's evidence": f"/console/auditor/findings/{finding.group(1)}",
                "reconciliation of a day":
                    f"/console/auditor/reconciliation?facility=H001&day={today}",
                "monthly charts": f"/console/auditor/charts?month={month}",
            }  # fmt: skip
            for name, path in pages.items():
                with stage(name):
                    timings.append(time_page(client, name, path, opts))
    finally:
        hub.stop()
    return timings


def _fhir_token() -> str:
    from hub.auth.roles import Role
    from hub.auth.service import get_issuer

    token, _ = get_issuer().issue(
        client_id="bench", facility="YB420500", role=Role.insurance_auditor,
        scope="system/DetectedIssue.rs", purpose_of_use="HPAYMT",
    )  # fmt: skip
    return str(token)


def report(opts: Options, timings: list[Timing]) -> None:
    print(f"\nconsole: the fund auditor's pages, {opts.findings:,} findings, "
          f"{opts.residents:,} residents (PostgreSQL, loopback, one uvicorn worker)")  # fmt: skip
    print(f"{'page':<42} {'n':>3} {'p50 ms':>8} {'p99 ms':>8} {'first ms':>9}  "
          f"goal <= {GOAL_MS:.0f} ms")  # fmt: skip
    for t in timings:
        met = "" if t.page.startswith("baseline") else ("met" if t.p99 <= GOAL_MS else "NOT met")
        if not t.count:
            met = f"NOT met: the first view took over {TIMEOUT_S:.0f} s"
        print(f"{t.page:<42} {t.count:>3} {t.p50:>8.0f} {t.p99:>8.0f} {t.first:>9.0f}  {met}")


def main() -> None:
    opts = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-console-audit-"))
    name, url = create_database(opts.admin_url)
    try:
        configure_hub(url, workdir / "var", free_port())
        os.environ["HUB_ALLOW_DANGLING_REFERENCES"] = "HUB"  # the findings' claims are not loaded
        report(opts, run(opts, workdir))
    finally:
        from hub.db import reset_engine

        reset_engine()
        drop_database(opts.admin_url, name)


if __name__ == "__main__":
    sys.exit(main())
