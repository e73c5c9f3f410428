"""``hub audit verify``, ``link``, ``checkpoint``, ``keygen``, ``break-glass`` and ``prune``.

Exit codes: 0 done; 1 the audit chain is broken (prune and checkpoint refuse to run on a broken
chain); 2 the input was refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from hub.cli.errors import BAD_INPUT, domain_errors, fail, nothing_listed
from hub.cli.output import FormatOption, OutputFormat, print_rows

if TYPE_CHECKING:
    from hub.audit.chain import ChainProblem

console = Console(stderr=True, highlight=False, soft_wrap=True)
BREAK_GLASS_COLUMNS = ("seq", "recorded", "practitioner", "client", "facility", "patients",
                       "reason", "resources", "overrode_consent", "reviewed")  # fmt: skip


def audit_verify() -> None:
    """Recompute the audit chain and check its signed checkpoints; exit 1 if it is broken."""
    from hub.audit.linking import chain_extent
    from hub.audit.verification import verify_chain
    from hub.db import session_scope

    with session_scope() as session:
        problems = list(verify_chain(session))
        extent = chain_extent(session)
    if problems:
        _print_problems(problems)
        raise typer.Exit(1)
    console.print(f"audit chain intact up to record {extent.head_seq}", style="green")
    _print_extent(extent.waiting, extent.oldest_waiting, extent.abandoned)


def _print_extent(waiting: int, oldest: datetime | None, abandoned: list[int]) -> None:
    if waiting:
        since = f", the oldest recorded {oldest.isoformat()}" if oldest else ""
        console.print(f"{waiting} record(s) committed after it wait to be linked{since}")
    if abandoned:
        shown = ", ".join(str(seq) for seq in abandoned[:20])
        shown += " ..." if len(abandoned) > 20 else ""
        console.print(
            f"{len(abandoned)} number(s) abandoned by transactions that did not commit: {shown}"
        )


def audit_link() -> None:
    """Link every committed audit record onto the chain now (the chainer's work, on demand)."""
    _link_now()


def _link_now() -> None:
    from hub.audit.linking import link_all
    from hub.db import session_scope

    result = link_all(session_scope)
    console.print(
        f"linked {result.linked} record(s); the chain's tip is record {result.head_seq}"
        + (f"; {result.waiting} wait behind a missing number" if result.waiting else "")
    )


def _refuse_broken_chain(message: str) -> None:
    """Exit 1 with ``message`` unless the chain verifies (what checkpoint and prune start by)."""
    from hub.audit.verification import verify_chain
    from hub.db import session_scope

    with session_scope() as session:
        problems = list(verify_chain(session))
    if problems:
        _print_problems(problems)
        console.print(message, style="red")
        raise typer.Exit(1)


def _print_problems(problems: list[ChainProblem]) -> None:
    for problem in problems:
        console.print(f"record {problem.seq}: {problem.reason}", markup=False, style="red")
    first = min(problem.seq for problem in problems)
    console.print(
        f"audit chain broken: {len(problems)} problem(s), the first at record {first}",
        style="red",
    )


def audit_checkpoint() -> None:
    """Verify the chain, then sign a checkpoint at its tip (e.g. daily from cron)."""
    from hub.audit.checkpoints import NothingToSign, write_checkpoint
    from hub.db import session_scope

    _link_now()  # the checkpoint covers everything committed so far
    _refuse_broken_chain("no checkpoint written: the audit chain is broken")
    try:
        with session_scope() as session:
            checkpoint = write_checkpoint(session)
    except NothingToSign as exc:
        console.print(f"no checkpoint written: {exc}", markup=False)
        return
    console.print(
        f"checkpoint at record {checkpoint.seq}: chain hash {checkpoint.hash}, "
        f"signed by key {checkpoint.key_id}"
    )


def audit_keygen() -> None:
    """Print new audit keys (HMAC key, Ed25519 checkpoint key and its public key) as .env lines."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from hub.audit.keys import new_checkpoint_key, new_hmac_key, public_key_text
    from hub.settings import ed25519_key_bytes

    private = new_checkpoint_key()
    public = public_key_text(Ed25519PrivateKey.from_private_bytes(ed25519_key_bytes(private)))
    typer.echo(f"HUB_AUDIT_HMAC_KEY={new_hmac_key()}")
    typer.echo(f"HUB_AUDIT_CHECKPOINT_KEY={private}")
    typer.echo(f"HUB_AUDIT_CHECKPOINT_PUBLIC_KEYS={public}")


def audit_break_glass(
    since: Annotated[
        str | None, typer.Option(help="only accesses from this FHIR date or dateTime on")
    ] = None,
    unreviewed: Annotated[bool, typer.Option("--unreviewed", help="only unreviewed ones")] = False,
    limit: Annotated[int, typer.Option(min=1, help="at most this many, newest first")] = 100,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Print break-glass (emergency, ETREAT) accesses for after-the-fact review."""
    from hub.audit.review import list_break_glass, parse_since
    from hub.db import session_scope
    from hub.errors import InvalidRequest

    try:
        start = parse_since(since) if since else None
    except InvalidRequest as exc:
        raise fail(exc.diagnostics, BAD_INPUT) from None
    with domain_errors(), session_scope() as session:
        total, page = list_break_glass(
            db_session=session, since=start, unreviewed_only=unreviewed, count=limit
        )
    rows = [
        {"seq": item.seq, "recorded": item.recorded, "practitioner": item.practitioner,
         "client": item.client_id,
         "facility": item.facility, "patients": item.patients, "reason": item.reason,
         "resources": item.resources, "overrode_consent": item.overrode_consent,
         "reviewed": f"{item.review.reviewer}: {item.review.note}" if item.review else None}
        for item in page
    ]  # fmt: skip
    shown = print_rows(rows, BREAK_GLASS_COLUMNS, output,
                       title=f"break-glass accesses: {len(page)} of {total}")  # fmt: skip
    if not shown:
        nothing_listed("no break-glass accesses" + (" to review" if unreviewed else ""))


def audit_prune(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only say what would go")] = False,
) -> None:
    """Remove audit records older than HUB_AUDIT_RETENTION_DAYS; the chain stays verifiable."""
    from hub.audit.retention import PruneError, prune_audit, retention_cutoff
    from hub.db import session_scope
    from hub.settings import get_settings

    days = get_settings().audit_retention_days
    _link_now()  # only the linked chain is pruned
    _refuse_broken_chain("not pruned: the audit chain is broken (see hub audit verify)")
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
