"""Claims audit over a synthetic month (PostgreSQL, bounded in time; issue 18).

    .venv/bin/python bench/claims_audit.py [--claims 1000000] [--quick] [--seed 18] [--rate 0.01]

One run: a fresh PostgreSQL database (dropped at the end), the region seeded, a month of
``--claims`` settled claims with each fraud pattern planted at ``--rate`` and as many near-misses
(``hub synth claims``, written independently of the rules) bulk-loaded through the store's bulk
path; then ``hub insurance audit --date D`` for each day of the month, as a user runs it (one
subprocess a day): claims/s, wall time, the children's peak memory; per-rule precision and
recall of the recorded findings against the truth; and, in the same run, a plain SQL scan of the
cross-claim duplicate rule (same person, facility, items, amounts and days) over the stored
Claim JSON, with its time and score. Goals: precision and recall >= 0.95 for every rule; a
month audited in <= 10 min.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and bench/referral.py would
# shadow the hub's referral package: move the folder (for the bench helpers) behind it.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [
    str(_BENCH.parent),
    *(p for p in sys.path if Path(p or ".").resolve() != _BENCH),
    str(_BENCH),
]

from fhir_api import (  # noqa: E402
    DEFAULT_ADMIN_URL,
    configure_hub,
    create_database,
    drop_database,
    free_port,
    log,
    stage,
)

MONTH = date(2026, 3, 1)
FACILITIES = 20  # the region's first hospitals
MONTH_GOAL_S = 600
HUB = Path(sys.executable).with_name("hub")

# The cross-claim duplicate as one SQL statement over the stored JSON: claims of one person at
# one facility whose items (code, quantity, unit price, service day) are the same.
DUPLICATES_SQL = """
WITH claim AS (
  SELECT resource_id, content::jsonb AS j FROM fhir_resource
  WHERE resource_type = 'Claim' AND NOT deleted
)
SELECT string_agg(resource_id, ';') FROM (
  SELECT resource_id, j->'patient'->>'reference' AS person, j->'provider'->>'reference' AS site,
    (SELECT string_agg(concat_ws('|', i->'productOrService'->'coding'->0->>'code',
       i->'quantity'->>'value', i->'unitPrice'->>'value', i->>'servicedDate'), ','
       ORDER BY 1) FROM jsonb_array_elements(j->'item') AS i) AS items
  FROM claim WHERE j->>'use' = 'claim' AND j->>'status' = 'active'
) AS c GROUP BY person, site, items HAVING count(*) > 1
"""


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def audit_month(first: date, last: date) -> tuple[float, int]:
    """``hub insurance audit --date D`` for each day; wall seconds and the children's peak RSS."""
    started = time.monotonic()
    day = first
    while day <= last:
        done = subprocess.run(
            [str(HUB), "-q", "insurance", "audit", "--date", day.isoformat(), "--format", "csv"],
            capture_output=True, text=True, env=dict(os.environ), check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"hub insurance audit --date {day}: {done.stderr[-500:]}")
        day += timedelta(days=1)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return time.monotonic() - started, peak_kib


def sql_duplicates() -> tuple[float, list[tuple[str, ...]]]:
    from sqlalchemy import text

    from hub.db import session_scope

    started = time.monotonic()
    with session_scope() as session:
        groups = [tuple(row[0].split(";")) for row in session.execute(text(DUPLICATES_SQL))]
    return time.monotonic() - started, groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--claims", type=int, default=1_000_000, help="background claims")
    parser.add_argument("--quick", action="store_true", help="about 20,000 claims")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--rate", type=float, default=0.01, help="planted share per pattern")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="PostgreSQL server")
    args = parser.parse_args()
    claims = 20_000 if args.quick else args.claims
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-claims-"))
    name, url = create_database(args.admin_url)
    try:
        with stage("database"):
            configure_hub(url, workdir / "var", free_port())
            os.environ["HUB_QUIET"] = "1"
            from hub.migrate import upgrade_database

            upgrade_database()
        run(claims, args.seed, args.rate, workdir)
    finally:
        from hub.db import reset_engine

        reset_engine()
        drop_database(args.admin_url, name)
        log(f"database {name} dropped; files in {workdir}")


def run(claims: int, seed: int, rate: float, workdir: Path) -> None:
    from hub.region.facilities import FacilityKind, load_facilities
    from hub.seeding import seed_region
    from hub.wiring import wire
    from insurance.claims_audit.codes import PATTERN_CODES
    from insurance.claims_audit.synth.background import CLAIMS_PER_PERSON
    from insurance.claims_audit.synth.files import MonthWriter, claim_ids
    from insurance.claims_audit.synth.generate import Spec, generate_month
    from insurance.claims_audit.synth.score import FoundIssue, score, score_rows
    from insurance.policy_source import configured_policy

    wire()
    seed_region()
    hospitals = [f.code for f in load_facilities() if f.kind is FacilityKind.HOSPITAL]
    spec = Spec(MONTH, math.ceil(claims / CLAIMS_PER_PERSON), tuple(hospitals[:FACILITIES]),
                seed, rate)  # fmt: skip
    folder = workdir / "month"
    with stage(f"generate about {claims:,} claims ({spec.persons:,} persons)"):
        writer = MonthWriter(folder)
        truth = generate_month(spec, configured_policy(), sink=writer).truth
        log(f"   {writer.finish(truth)}")
    from insurance.claims_audit.synth.store_io import load_month, recorded_issues

    with stage("bulk load"):
        started = time.monotonic()
        loaded = load_month(folder)
        log(f"   {sum(loaded.values()):,} resources in {time.monotonic() - started:.0f} s")
    in_month = sum(1 for c in _claims_of_month(folder, spec.first, spec.last))
    with stage(f"hub insurance audit, each day of {spec.first:%Y-%m}"):
        wall, peak = audit_month(spec.first, spec.last)
        met = "met" if wall <= MONTH_GOAL_S else "not met"
        log(
            f"   {in_month:,} claims in {wall:.0f} s: {in_month / wall:.0f} claims/s; peak RSS "
            f"of a day's run {peak / 1024:.0f} MiB; goal a month <= {MONTH_GOAL_S} s: {met}"
        )
    ours = claim_ids(folder)
    rules = [str(r) for r in PATTERN_CODES]
    scores = score(truth, recorded_issues(ours), rules)
    log("   rule               planted  found findings  false precision recall (goal >= 0.95)")
    for row in score_rows(scores):
        log(
            f"   {row['rule']:<18} {row['planted']:>7} {row['found']:>6} {row['findings']:>8} "
            f"{row['false']:>6} {row['precision']:>9} {row['recall']:>6}  {row['met']}"
        )
    for result in scores.values():
        if result.missed:  # which kinds of case a rule misses
            kinds = Counter(m.variant for m in result.missed)
            log(f"   {result.rule} missed: {dict(kinds)}")
    with stage("baseline: one SQL scan for cross-claim duplicates"):
        seconds, groups = sql_duplicates()
        issues = [FoundIssue(";".join(g), "duplicate-charge", g) for g in groups if ours & set(g)]
        base = score(truth, issues, ["duplicate-charge"])["duplicate-charge"]
        log(
            f"   {len(issues)} groups in {seconds:.1f} s; precision {base.precision or 0:.3f}, "
            f"recall {base.recall or 0:.3f} (the rule's same-claim half is not in the scan)"
        )
    log(f"   load average {os.getloadavg()}")


def _claims_of_month(folder: Path, first: date, last: date) -> list[str]:
    from insurance.claims_audit.synth.files import read_resources

    return [
        c["id"] for c in read_resources(folder, "Claim")
        if first.isoformat() <= c["created"][:10] <= last.isoformat()
    ]  # fmt: skip


if __name__ == "__main__":
    main()
