"""``hub users add|list|disable``: the web console's staff accounts."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.errors import BAD_INPUT, NOT_FOUND, fail, nothing_listed
from hub.cli.output import FormatOption, OutputFormat, print_rows
from hub.console.accounts import AccountError, add_user, disable_user, list_users, totp_uri
from hub.console.staff import StaffRole
from hub.db import session_scope

users_app = typer.Typer(help="Staff accounts of the web console (/console)", no_args_is_help=True)
USER_COLUMNS = ("username", "display_name", "facility", "role", "second_factor", "state", "created")


@users_app.command(
    "add",
    help="Add a staff account bound to a facility and a role. Auditors and operators get a TOTP "
    "secret: its otpauth:// URI is printed for their authenticator app.",
)
def users_add(
    username: Annotated[str, typer.Argument(help="sign-in name (lower case)")],
    facility: Annotated[str, typer.Option(help="facility code, e.g. H001")],
    role: Annotated[StaffRole, typer.Option(help="what the person does in the console")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="HUB_USER_PASSWORD",
            help="at least 10 characters (else asked)",
        ),
    ],
    name: Annotated[str, typer.Option(help="name shown in the console")] = "",
    practitioner: Annotated[
        str | None, typer.Option(help="Practitioner/<id> the person is, for the audit log")
    ] = None,
    totp: Annotated[bool, typer.Option("--totp", help="require TOTP for any role")] = False,
) -> None:
    try:
        with session_scope() as session:
            user = add_user(
                session, username=username, password=password, facility=facility, role=role,
                display_name=name, practitioner=practitioner, with_totp=totp,
            )  # fmt: skip
            uri = totp_uri(user)
    except AccountError as exc:
        raise fail(f"hub: {exc}", BAD_INPUT) from None
    typer.echo(f"added {username} ({role}, {facility})")
    if uri:
        typer.echo(f"TOTP (scan into an authenticator app): {uri}")


@users_app.command("list", help="List staff accounts.")
def users_list(
    facility: Annotated[str | None, typer.Option(help="only this facility's")] = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    with session_scope() as session:
        rows = [
            {"username": u.username, "display_name": u.display_name, "facility": u.facility,
             "role": u.role, "second_factor": "totp" if u.totp_secret else "-",
             "state": "active" if u.active else "disabled", "created": u.created}
            for u in list_users(session, facility=facility)
        ]  # fmt: skip
    if not print_rows(rows, USER_COLUMNS, output, title=f"{len(rows)} staff accounts"):
        nothing_listed("no staff accounts (see `hub users add`)")


@users_app.command("disable", help="Disable a staff account; its open sessions end at once.")
def users_disable(username: Annotated[str, typer.Argument()]) -> None:
    try:
        with session_scope() as session:
            disable_user(session, username)
    except AccountError as exc:
        raise fail(f"hub: {exc}", NOT_FOUND) from None
    typer.echo(f"disabled {username}")
