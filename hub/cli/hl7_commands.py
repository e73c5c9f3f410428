"""``hub mllp``, ``hub worker``, ``hub messages``: running and operating the HL7 v2 front door."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from adapters.hl7v2.models import MessageStatus
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.cli.errors import (
    BAD_INPUT,
    NOT_FOUND,
    as_utc,
    domain_errors,
    fail,
    nothing_listed,
    require_facility,
)
from hub.cli.output import FormatOption, OutputFormat, print_rows, timestamp

if TYPE_CHECKING:
    from hub.settings import Settings

messages_app = typer.Typer(help="The HL7 v2 message log", no_args_is_help=True)
console = Console(stderr=True)
OPERATOR = Actor.build(client_id="hub-cli", facility="HUB", role=Role.operator,
                       scope="system/*.cruds")  # fmt: skip


def mllp_command(
    host: Annotated[
        str | None, typer.Option(help="bind address (default HUB_MLLP_HOST, 127.0.0.1)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default HUB_MLLP_PORT, 2575)")] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="serve Prometheus metrics on this port")
    ] = None,
) -> None:
    """Run the MLLP listener (HL7 v2 over TCP, optionally TLS)."""
    from adapters.hl7v2.gateway import serve_mllp
    from hub.settings import get_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    if host is not None:
        settings = settings.model_copy(update={"mllp_host": host})
    check_mllp_senders(settings)
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_mllp(settings, port=port))


def worker_command(
    concurrency: Annotated[int, typer.Option(help="worker processes")] = 2,
    beat: Annotated[bool, typer.Option(help="also run the periodic inbox sweeper")] = True,
    loglevel: Annotated[str, typer.Option(help="Celery log level")] = "info",
    metrics_port: Annotated[
        int | None, typer.Option(help="serve this process's Prometheus metrics on this port")
    ] = None,
) -> None:
    """Run a Celery worker (needs HUB_CELERY_BROKER_URL)."""
    from hub.settings import get_settings
    from hub.worker import celery_app

    if not get_settings().celery_broker_url:
        console.print("[red]HUB_CELERY_BROKER_URL is not set; without a broker the listener "
                      "processes messages in-process[/red]")  # fmt: skip
        raise typer.Exit(2)
    get_settings().var_dir.mkdir(parents=True, exist_ok=True)  # beat keeps its schedule there
    if metrics_port:  # the main process: up, memory, CPU (the backlogs are the API's /metrics)
        from prometheus_client import start_http_server

        start_http_server(metrics_port)
    argv = ["worker", f"--concurrency={concurrency}", f"--loglevel={loglevel}", "--without-gossip"]
    if beat:
        argv.append("--beat")
    celery_app.worker_main(argv)


def check_mllp_senders(settings: Settings | None = None) -> None:
    """Refuse, before anything starts, a listener configuration that cannot identify senders
    safely (e.g. production without client certificates or source allow-list): a message and
    exit code 2. The listener itself logs how it identifies senders when it starts."""
    from adapters.hl7v2.gateway import facilities_by_sending_name
    from adapters.hl7v2.sender import SenderConfigError, sender_policy
    from hub.region.facilities import load_facilities
    from hub.settings import get_settings

    try:
        sender_policy(settings or get_settings(), facilities_by_sending_name(load_facilities()))
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


MESSAGE_COLUMNS = ("id", "received", "facility", "type", "control_id", "status", "ack",
                   "attempts", "error")  # fmt: skip


@messages_app.command("list", help="Search the message log (newest first).")
def messages_list(
    facility: Annotated[str | None, typer.Option(help="facility code")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="ADT or ADT^A01")] = None,
    status: Annotated[MessageStatus | None, typer.Option(help="the message's status")] = None,
    since: Annotated[
        datetime | None, typer.Option(help="received at or after (UTC unless an offset is given)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    output: FormatOption = OutputFormat.table,
) -> None:
    from adapters.hl7v2.messages import search_messages
    from hub.db import session_scope

    require_facility(facility)
    with domain_errors(), session_scope() as session:
        page = search_messages(session, OPERATOR, facility=facility, message_type=type_,
                               status=status, since=as_utc(since), limit=limit)  # fmt: skip
    rows = [
        {"id": m.id, "received": m.received_at, "facility": m.facility, "type": m.message_type,
         "control_id": m.control_id, "status": m.status, "ack": m.ack_code,
         "attempts": m.attempts, "error": m.error}
        for m in page.messages
    ]  # fmt: skip
    shown = print_rows(rows, MESSAGE_COLUMNS, output,
                       title=f"{len(rows)} of {page.total} messages, newest first")  # fmt: skip
    if not shown:
        nothing_listed("no messages match")


@messages_app.command(
    "show",
    help="One message: raw content and its ACK (`hub messages trace ID` tells what happened to "
    "it, step by step).",
)
def messages_show(message_id: int) -> None:
    from adapters.hl7v2.messages import show_message
    from hub.db import session_scope
    from hub.security.fields import get_cipher

    with domain_errors(), session_scope() as session:
        detail = show_message(session, get_cipher(), OPERATOR, message_id)
    out = Console(highlight=False)
    out.print(f"message {detail.id} {detail.message_type} from {detail.facility or '-'} "
              f"({detail.sending_facility}), control id {detail.control_id}, {detail.status}, "
              f"attempts {detail.attempts}, received {timestamp(detail.received_at)}",
              markup=False)  # fmt: skip
    if detail.error:
        out.print(f"error: {detail.error}", markup=False)
    out.print("[bold]raw[/bold]", markup=True)
    out.print(detail.raw or "", markup=False)
    out.print("[bold]ACK[/bold]", markup=True)
    out.print(detail.ack, markup=False)
    out.print("resources: " + (" ".join(detail.resources) or "-"), markup=False)
    out.print(f"what happened to it, step by step: hub messages trace {detail.id}", markup=False)


@messages_app.command(
    "trace",
    help="What happened to one message end to end: received, ACK, stored, each processing "
    "attempt, the FHIR resources it wrote and the patient index's decision.",
)
def messages_trace(message_id: int, output: FormatOption = OutputFormat.table) -> None:
    from adapters.hl7v2.trace import TRACE_COLUMNS, trace_message
    from hub.db import session_scope

    with domain_errors(), session_scope() as session:
        trace = trace_message(session, OPERATOR, message_id)
    print_rows((step.as_row() for step in trace.steps), TRACE_COLUMNS, output,
               title=f"message {trace.message_id}")  # fmt: skip


@messages_app.command("replay", help="Replay dead letters (by id, or all of a facility's).")
def messages_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="message ids")] = None,
    facility: Annotated[str | None, typer.Option(help="every dead letter of a facility")] = None,
    reason: Annotated[str, typer.Option(help="why (kept in the log)")] = "replayed by operator",
) -> None:
    from adapters.hl7v2.inbox_queue import get_dispatcher
    from adapters.hl7v2.messages import dead_letter_ids, replay_messages
    from hub.db import session_scope

    if not ids and not facility:
        raise fail("nothing to replay: give message ids or --facility", BAD_INPUT)
    require_facility(facility)
    with domain_errors(), session_scope() as session:
        chosen = list(ids or []) or dead_letter_ids(session, facility)
        if not chosen:
            raise fail(f"nothing to replay: no dead letters for facility {facility}", NOT_FOUND)
        replayed, facilities = replay_messages(session, OPERATOR, chosen, reason=reason)
    dispatcher = get_dispatcher()
    dispatcher.notify(facilities)
    dispatcher.close()  # in-process: finishes the replayed messages before the command exits
    console.print(f"{len(replayed)} messages queued again")
