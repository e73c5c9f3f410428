"""``hub audit break-glass`` and ``hub audit prune`` (``hub audit verify`` lives in app.py).

Exit codes: 0 done; 1 the audit chain is broken (prune refuses to run on a broken chain);
2 the input was refused.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True, highlight=False, soft_wrap=True)


def audit_break_glass(
    since: Annotated[
        str | None, typer.Option(help="only accesses from this FHIR date or dateTime on")
    ] = None,
    unreviewed: Annotated[bool, typer.Option("--unreviewed", help="only unreviewed ones")] = False,
    limit: Annotated[int, typer.Option(min=1, help="at most this many, newest first")] = 100,
) -> None:
    """Print break-glass (emergency, ETREAT) accesses for after-the-fact review."""
    from hub.audit.review import list_break_glass, parse_since
    from hub.db import session_scope
    from hub.errors import InvalidRequest

    try:
        start = parse_since(since) if since else None
    except InvalidRequest as exc:
        console.print(exc.diagnostics, markup=False, style="red")
        raise typer.Exit(2) from None
    with session_scope() as session:
        total, page = list_break_glass(
            db_session=session, since=start, unreviewed_only=unreviewed, count=limit
        )
    table = Table(title=f"break-glass accesses: {len(page)} of {total}")
    for column in ("seq", "recorded", "client", "facility", "patients", "reason"):
        table.add_column(column)
    table.add_column("resources")
    table.add_column("overrode consent")
    table.add_column("reviewed")
    for item in page:
        table.add_row(
            str(item.seq),
            item.recorded.isoformat(timespec="seconds"),
            item.client_id,
            item.facility,
            ", ".join(item.patients),
            item.reason or "",
            ", ".join(item.resources[:5]) + (" …" if len(item.resources) > 5 else ""),
            "yes" if item.overrode_consent else "no",
            f"{item.review.reviewer}: {item.review.note}" if item.review else "",
        )
    Console().print(table)


def audit_prune(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only say what would go")] = False,
) -> None:
    """Remove audit records older than HUB_AUDIT_RETENTION_DAYS; the chain stays verifiable."""
    from hub.audit.retention import PruneError, prune_audit, retention_cutoff
    from hub.audit.service import verify_chain
    from hub.db import session_scope
    from hub.settings import get_settings

    days = get_settings().audit_retention_days
    with session_scope() as session:
        problems = list(verify_chain(session))
    if problems:
        for problem in problems:
            console.print(f"record {problem.seq}: {problem.reason}", markup=False, style="red")
        console.print("not pruned: the audit chain is broken (see hub audit verify)", style="red")
        raise typer.Exit(1)
    try:
        with session_scope() as session:
            result = prune_audit(session, cutoff=retention_cutoff(days), dry_run=dry_run)
    except PruneError as exc:
        console.print(f"not pruned: {exc}", markup=False, style="red")
        raise typer.Exit(1) from None
    verb = "would remove" if dry_run else "removed"
    console.print(
        f"{verb} {result.removed} audit record(s) older than {days} days "
        f"({result.cutoff.isoformat(timespec='seconds')}); chain anchor: record "
        f"{result.anchor_seq}"
    )
