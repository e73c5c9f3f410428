"""``hub referrals ...``: the overdue worklist, the SLA sweep and the commission's report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from hub.cli.output import FormatOption, OutputFormat, print_rows
from hub.db import session_scope
from referral.escalation import overdue_tasks, sweep
from referral.report import referral_report
from referral.rules import reference_of
from referral.scheduling.store_access import system_store
from referral.sla import SlaRules, accept_due, authored_at, load_sla_rules
from referral.stats import REPORT_COLUMNS, report_rows

referrals_app = typer.Typer(help="Two-way referrals: SLA and reports.", no_args_is_help=True)
OVERDUE_COLUMNS = ("task", "owner", "requester", "priority", "status", "authored", "due", "late")
FacilityOption = Annotated[
    str | None, typer.Option("--facility", help="facility code: only its worklist")
]


def overdue_row(rules: SlaRules, task: dict[str, Any], now: datetime) -> dict[str, Any]:
    due = accept_due(rules, task)
    late = "" if due is None else f"{max(0, int((now - due).total_seconds() // 60))} min"
    return {
        "task": f"Task/{task['id']}",
        "owner": reference_of(task.get("owner")),
        "requester": reference_of(task.get("requester")),
        "priority": task.get("priority") or rules.default_priority,
        "status": task.get("status"),
        "authored": authored_at(task),
        "due": due,
        "late": late,
    }


@referrals_app.command("overdue", help="Referrals not accepted in time, oldest first.")
def overdue(facility: FacilityOption = None, output: FormatOption = OutputFormat.table) -> None:
    rules, now = load_sla_rules(), datetime.now(UTC)
    with session_scope() as session:
        tasks = overdue_tasks(system_store(session), facility=facility)
    shown = print_rows(
        (overdue_row(rules, task, now) for task in tasks),
        OVERDUE_COLUMNS,
        output,
        title="Overdue referrals",
        caption=f"service levels {rules.version}",
    )
    if not shown and output is OutputFormat.table:
        typer.echo("no overdue referrals", err=True)


@referrals_app.command("sweep", help="Flag overdue referrals and expire stale ones (the beat job).")
def sweep_now(facility: FacilityOption = None) -> None:
    result = sweep(datetime.now(UTC), facility=facility)
    typer.echo(f"{result.flagged} flagged overdue, {result.expired} expired, {result.raced} raced")


@referrals_app.command("report", help="Counts, times to accept and arrive, loop closure, overdue.")
def report(
    output: FormatOption = OutputFormat.table,
    since: Annotated[
        str | None, typer.Option(help="only referrals made since (ISO 8601, UTC if no zone)")
    ] = None,
) -> None:
    try:
        start = None if since is None else datetime.fromisoformat(since)
    except ValueError:
        raise typer.BadParameter(
            f"{since!r} is not an ISO 8601 time", param_hint="--since"
        ) from None
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    with session_scope() as session:
        figures = referral_report(system_store(session), since=start)
    print_rows(report_rows(figures), REPORT_COLUMNS, output, title="Two-way referrals")
