"""``hub mllp``, ``hub worker``, ``hub messages``: running and operating the HL7 v2 front door."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hub.auth.actor import Actor
from hub.auth.roles import Role

messages_app = typer.Typer(help="The HL7 v2 message log", no_args_is_help=True)
console = Console(stderr=True)
OPERATOR = Actor.build(client_id="hub-cli", facility="HUB", role=Role.operator,
                       scope="system/*.cruds")  # fmt: skip


def mllp_command(
    port: Annotated[int | None, typer.Option(help="TCP port (default HUB_MLLP_PORT, 2575)")] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="serve Prometheus metrics on this port")
    ] = None,
) -> None:
    """Run the MLLP listener (HL7 v2 over TCP, optionally TLS)."""
    from adapters.hl7v2.gateway import serve_mllp

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    check_mllp_senders()
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_mllp(port=port))


def worker_command(
    concurrency: Annotated[int, typer.Option(help="worker processes")] = 2,
    beat: Annotated[bool, typer.Option(help="also run the periodic inbox sweeper")] = True,
    loglevel: Annotated[str, typer.Option(help="Celery log level")] = "info",
) -> None:
    """Run a Celery worker (needs HUB_CELERY_BROKER_URL)."""
    from hub.settings import get_settings
    from hub.worker import celery_app

    if not get_settings().celery_broker_url:
        console.print("[red]HUB_CELERY_BROKER_URL is not set; without a broker the listener "
                      "processes messages in-process[/red]")  # fmt: skip
        raise typer.Exit(2)
    get_settings().var_dir.mkdir(parents=True, exist_ok=True)  # beat keeps its schedule there
    argv = ["worker", f"--concurrency={concurrency}", f"--loglevel={loglevel}", "--without-gossip"]
    if beat:
        argv.append("--beat")
    celery_app.worker_main(argv)


def check_mllp_senders() -> None:
    """Refuse, before anything starts, a listener configuration that cannot identify senders
    safely (e.g. production without client certificates or source allow-list): a message and
    exit code 2. The listener itself logs how it identifies senders when it starts."""
    from adapters.hl7v2.gateway import facilities_by_sending_name
    from adapters.hl7v2.sender import SenderConfigError, sender_policy
    from hub.region.facilities import load_facilities
    from hub.settings import get_settings

    try:
        sender_policy(get_settings(), facilities_by_sending_name(load_facilities()))
    except SenderConfigError as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None


def start_mllp_in_background(port: int) -> threading.Thread:
    """For ``hub demo``: the listener in a thread of its own, processing in-process; its
    warnings (an unauthenticated listener, refused senders) on stderr."""
    from adapters.hl7v2.gateway import serve_mllp

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    thread = threading.Thread(target=lambda: asyncio.run(serve_mllp(port=port)),
                              name="mllp-listener", daemon=True)  # fmt: skip
    thread.start()
    return thread


@messages_app.command("list", help="Search the message log (newest first).")
def messages_list(
    facility: Annotated[str | None, typer.Option(help="facility code")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="ADT or ADT^A01")] = None,
    status: Annotated[str | None, typer.Option(help="received|processed|dead|rejected")] = None,
    since: Annotated[datetime | None, typer.Option(help="received at or after")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    from adapters.hl7v2.messages import search_messages
    from adapters.hl7v2.models import MessageStatus
    from hub.db import session_scope

    wanted = MessageStatus(status) if status else None
    with session_scope() as session:
        page = search_messages(session, OPERATOR, facility=facility, message_type=type_,
                               status=wanted, since=since, limit=limit)  # fmt: skip
    table = Table(title=f"{page.total} messages")
    for column in ("id", "received", "facility", "type", "control id", "status", "ack", "error"):
        table.add_column(column)
    for m in page.messages:
        table.add_row(str(m.id), f"{m.received_at:%Y-%m-%d %H:%M:%S}", m.facility or "-",
                      m.message_type, m.control_id, m.status, m.ack_code,
                      (m.error or "")[:60])  # fmt: skip
    Console().print(table)


@messages_app.command("show", help="One message: raw content, its ACK, the resources it produced.")
def messages_show(message_id: int) -> None:
    from adapters.hl7v2.messages import show_message
    from hub.db import session_scope
    from hub.security.fields import get_cipher

    with session_scope() as session:
        detail = show_message(session, get_cipher(), OPERATOR, message_id)
    out = Console()
    out.print(f"[bold]message {detail.id}[/bold] {detail.message_type} from {detail.facility} "
              f"({detail.sending_facility}), control id {detail.control_id}, {detail.status}, "
              f"attempts {detail.attempts}")  # fmt: skip
    if detail.error:
        out.print(f"error: {detail.error}")
    out.print("[bold]raw[/bold]", markup=True)
    out.print(detail.raw or "", markup=False, highlight=False)
    out.print("[bold]ACK[/bold]", markup=True)
    out.print(detail.ack, markup=False, highlight=False)
    out.print("[bold]resources[/bold] " + (" ".join(detail.resources) or "-"))


@messages_app.command("replay", help="Replay dead letters (by id, or all of a facility's).")
def messages_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="message ids")] = None,
    facility: Annotated[str | None, typer.Option(help="every dead letter of a facility")] = None,
    reason: Annotated[str, typer.Option(help="why (kept in the log)")] = "replayed by operator",
) -> None:
    from adapters.hl7v2.dispatch import get_dispatcher
    from adapters.hl7v2.messages import dead_letter_ids, replay_messages
    from hub.db import session_scope
    from hub.errors import FhirError

    with session_scope() as session:
        chosen = list(ids or []) or (dead_letter_ids(session, facility) if facility else [])
        if not chosen:
            console.print("nothing to replay: give message ids or --facility")
            raise typer.Exit(1)
        try:
            replayed, facilities = replay_messages(session, OPERATOR, chosen, reason=reason)
        except FhirError as exc:
            console.print(f"[red]{exc.diagnostics}[/red]")
            raise typer.Exit(1) from None
    dispatcher = get_dispatcher()
    dispatcher.notify(facilities)
    dispatcher.close()  # in-process: finishes the replayed messages before the command exits
    console.print(f"{len(replayed)} messages queued again")
