"""``hub synth claims`` (a month of settled claims with planted fraud patterns, optionally
bulk-loaded) and ``hub synth claims-score`` (the recorded findings against its truth.csv)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.errors import BAD_INPUT, fail
from hub.cli.output import FormatOption, OutputFormat, print_rows
from hub.cli.progress import progress_bar
from hub.region.facilities import FacilityKind, load_facilities
from insurance.claims_audit.codes import PATTERN_CODES
from insurance.claims_audit.synth.files import MonthWriter, claim_ids, read_truth
from insurance.claims_audit.synth.generate import Spec, generate_month
from insurance.claims_audit.synth.score import SCORE_COLUMNS, score, score_rows
from insurance.claims_audit.synth.store_io import load_month, recorded_issues
from insurance.policy_source import configured_policy


def facility_codes(text: str) -> tuple[str, ...]:
    """A count (the region's first N hospitals) or a comma-separated list of facility codes."""
    hospitals = [f.code for f in load_facilities() if f.kind is FacilityKind.HOSPITAL]
    if text.strip().isdigit():
        return tuple(hospitals[: int(text)])
    known = {f.code for f in load_facilities()}
    codes = tuple(c.strip() for c in text.split(",") if c.strip())
    unknown = sorted(set(codes) - known)
    if unknown:
        raise fail(f"not in the facility registry: {', '.join(unknown)}", BAD_INPUT)
    return codes


def synth_claims(
    month: Annotated[datetime, typer.Option("--month", formats=["%Y-%m"], help="YYYY-MM")],
    persons: Annotated[int, typer.Option(min=1, help="background persons")],
    out: Annotated[Path, typer.Option(file_okay=False, help="output directory")],
    facilities: Annotated[
        str, typer.Option(help="how many hospitals (the registry's first), or codes a,b,c")
    ] = "10",
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    rate: Annotated[
        float, typer.Option(min=0, max=0.1, help="planted cases per pattern, share of claims")
    ] = 0.01,
    load: Annotated[bool, typer.Option("--load", help="bulk-load the files into the hub")] = False,
) -> None:
    spec = Spec(month.date().replace(day=1), persons, facility_codes(facilities), seed, rate)
    writer = MonthWriter(out)  # the records are written as they are made
    try:
        generated = generate_month(spec, configured_policy(), sink=writer)
    except (ValueError, LookupError) as exc:
        raise fail(str(exc), BAD_INPUT) from None
    counts = writer.finish(generated.truth)
    planted = sum(1 for t in generated.truth if t.kind == "planted")
    typer.echo(
        ", ".join(f"{n} {t}" for t, n in counts.items())
        + f"; {planted} planted cases, {len(generated.truth) - planted} near-misses; "
        f"written to {out}",
        err=True,
    )
    if load:
        with progress_bar("resources", sum(counts.values())) as advance:
            loaded = load_month(out, progress=advance)
        typer.echo(f"loaded {sum(loaded.values())} resources (bulk path)", err=True)


def synth_claims_score(
    truth: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="DIR/truth.csv")],
    output: FormatOption = OutputFormat.table,
) -> None:
    """Per-rule precision and recall of the recorded findings about the month in truth's
    directory (its Claim.ndjson names the claims)."""
    issues = recorded_issues(claim_ids(truth.parent))
    scores = score(read_truth(truth), issues, [str(r) for r in PATTERN_CODES])
    print_rows(score_rows(scores), SCORE_COLUMNS, output, title="Claims audit against truth")
