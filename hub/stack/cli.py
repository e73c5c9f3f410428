"""``scripts/stack up|down|status|backup|restore`` (``python -m hub.stack``)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from hub.stack.control import StackError, down, status, up, urls
from hub.stack.database import BackupError, backup, restore
from hub.stack.layout import layout_from_env
from hub.stack.secrets import ensure_secrets
from hub.stack.topology import HUB, hub_env

app = typer.Typer(
    help="The production topology from processes on this machine (run dir: HUB_STACK_DIR, "
    "default /tmp/hub-stack; ports: HUB_STACK_*_PORT).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.command("up", help="Start every process; return once each reports ready.")
def up_command() -> None:
    layout = layout_from_env()
    try:
        up(layout)
    except StackError as exc:
        typer.echo(f"stack: {exc}", err=True)
        raise typer.Exit(1) from None
    for name, url in urls(layout).items():
        typer.echo(f"{name:<11} {url}")
    typer.echo(f"{'run dir':<11} {layout.run_dir} (logs/, stack.json, secrets/, tls/cert.pem)")


@app.command("down", help="Stop every process (SIGTERM, then SIGKILL after 10 s).")
def down_command() -> None:
    stopped = down(layout_from_env())
    typer.echo(f"stopped: {' '.join(stopped) or 'nothing was running'}")


@app.command("status", help="Each process: pid, port, alive, ready. Exit 1 unless all ready.")
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
) -> None:
    layout = layout_from_env()
    rows = status(layout)
    if not rows:
        typer.echo(f"no stack is running from {layout.run_dir}", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps([asdict(row) for row in rows], indent=1))
    else:
        typer.echo(f"{'process':<15} {'pid':>8} {'port':>6}  health")
        for row in rows:
            health = "ready" if row.ready else ("not ready" if row.alive else "down")
            typer.echo(f"{row.name:<15} {row.pid:>8} {row.port or '-':>6}  {health}")
    if not all(row.ready for row in rows):
        raise typer.Exit(1)


@app.command("backup", help="pg_dump -Fc of the stack's database into FILE.")
def backup_command(file: Path) -> None:
    try:
        backup(layout_from_env(), file)
    except BackupError as exc:
        typer.echo(f"stack: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"backed up to {file} (keep secrets/hub.json too: keys are not in the dump)")


@app.command("restore", help="pg_restore FILE into a new database (default: the stack's).")
def restore_command(
    file: Path,
    database: Annotated[str | None, typer.Option(help="restore into this database")] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="drop the database first if it exists")
    ] = False,
) -> None:
    layout = layout_from_env()
    try:
        restore(layout, file, database or layout.database, replace=replace)
    except BackupError as exc:
        typer.echo(f"stack: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"restored {file} into {database or layout.database}")


@app.command(
    "hub",
    help="Run a hub command in the stack's environment (its database, keys and URL), e.g. "
    "scripts/stack hub token --facility H001 --role practitioner; or hub audit verify.",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def hub_command(ctx: typer.Context) -> None:
    layout = layout_from_env()
    if not layout.secrets_file.exists():
        typer.echo(f"stack: no stack in {layout.run_dir} (scripts/stack up first)", err=True)
        raise typer.Exit(1)
    env = hub_env(layout, ensure_secrets(layout), os.environ)
    raise typer.Exit(subprocess.run([*HUB, *ctx.args], env=env, check=False).returncode)
