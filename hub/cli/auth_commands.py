"""``hub clients add|list|keygen`` and ``hub token``."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.cli.errors import (
    BAD_INPUT,
    domain_errors,
    fail,
    nothing_listed,
    require_facility,
)
from hub.cli.output import FormatOption, OutputFormat, print_rows

clients_app = typer.Typer(help="API clients (SMART Backend Services)", no_args_is_help=True)
err = Console(stderr=True)


@clients_app.command("add", help="Register a client; prints its client_id on the last line.")
def clients_add(
    facility: Annotated[str | None, typer.Option(help="facility code, e.g. H001")] = None,
    role: Annotated[Role | None, typer.Option(help="role the client acts in")] = None,
    jwks: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            readable=True,
            help="JWKS file with the client's public keys",
        ),
    ] = None,
    patient: Annotated[str | None, typer.Option(help="Patient id, for a patient app")] = None,
    scope: Annotated[str | None, typer.Option(help="most the client may be granted")] = None,
    description: Annotated[str | None, typer.Option(help="free text")] = None,
    public: Annotated[
        bool, typer.Option("--public", help="a patient app (SMART App Launch, PKCE, no key)")
    ] = False,
    redirect_uri: Annotated[
        list[str] | None, typer.Option(help="exact redirect URI of a --public app (repeatable)")
    ] = None,
) -> None:
    if public:
        _add_public_client(redirect_uri or [], scope, description)
        return
    if facility is None or role is None or jwks is None:
        err.print("[red]--facility, --role and --jwks are required (or --public)[/red]")
        raise typer.Exit(2)
    from hub.auth.client_assertions import InvalidJwksError
    from hub.auth.service import register_client
    from hub.db import session_scope
    from hub.migrate import upgrade_database

    require_facility(facility, hub_allowed=True)
    upgrade_database()
    try:
        with session_scope() as session:
            row = register_client(
                session,
                facility=facility,
                role=role,
                jwks_text=jwks.read_text(),
                patient_id=patient,
                scope=scope,
                description=description,
            )
            client_id, granted = row.client_id, row.scope
    except (InvalidJwksError, ValueError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    err.print(f"registered {role} client for {facility}; allowed scopes: {granted}")
    typer.echo(client_id)


def _add_public_client(redirect_uris: list[str], scope: str | None, note: str | None) -> None:
    from hub.auth.smart_app import register_public_client
    from hub.db import session_scope
    from hub.migrate import upgrade_database

    upgrade_database()
    try:
        with session_scope() as session:
            row = register_public_client(
                session, redirect_uris=redirect_uris, scope=scope, description=note
            )
            client_id, granted = row.client_id, row.scope
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    err.print(f"registered public patient app; allowed scopes: {granted}")
    typer.echo(client_id)


CLIENT_COLUMNS = ("client_id", "facility", "role", "state", "scope", "created", "description")


@clients_app.command("list", help="List registered clients.")
def clients_list(output: FormatOption = OutputFormat.table) -> None:
    from sqlalchemy import select

    from hub.auth.models import ClientRow
    from hub.db import session_scope

    with domain_errors(), session_scope() as session:
        rows = [
            {"client_id": row.client_id, "facility": row.facility, "role": row.role,
             "state": "active" if row.active else "disabled", "scope": row.scope,
             "created": row.created, "description": row.description}
            for row in session.execute(select(ClientRow).order_by(ClientRow.created)).scalars()
        ]  # fmt: skip
    if not print_rows(rows, CLIENT_COLUMNS, output, title=f"{len(rows)} API clients"):
        nothing_listed("no clients registered (see `hub clients add`)")


class KeyAlgorithm(StrEnum):
    ES256 = "ES256"
    RS256 = "RS256"


@clients_app.command("keygen", help="Make a key pair for a client: private JWK and public JWKS.")
def clients_keygen(
    out: Annotated[
        Path,
        typer.Option(file_okay=False, help="directory for client.jwk.json and client.jwks.json"),
    ],
    alg: Annotated[KeyAlgorithm, typer.Option(help="signing algorithm")] = KeyAlgorithm.ES256,
) -> None:
    from hub.auth.signing_keys import generate_signing_key, public_jwks

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail(f"cannot make {out}: {exc.strerror}", BAD_INPUT) from None
    private = generate_signing_key(alg.value)
    key_path = out / "client.jwk.json"
    key_path.write_text(json.dumps(private, indent=2))
    key_path.chmod(0o600)
    (out / "client.jwks.json").write_text(json.dumps(public_jwks(private), indent=2))
    typer.echo(str(out / "client.jwks.json"))


def token_command(
    facility: Annotated[str, typer.Option(help="facility code")],
    role: Annotated[Role, typer.Option(help="role")],
    patient: Annotated[str | None, typer.Option(help="Patient id (patient role)")] = None,
    scope: Annotated[str | None, typer.Option(help="SMART scopes; default: the role's")] = None,
    purpose: Annotated[
        str | None,
        typer.Option(help="purpose of use: TREAT, ETREAT, HPAYMT, HRESCH, PATRQT; default: role's"),
    ] = None,
    reason: Annotated[
        str | None, typer.Option(help="why (required with ETREAT, emergency access)")
    ] = None,
    client_id: Annotated[str, typer.Option(help="client id to put in the token")] = "hub-cli",
    practitioner: Annotated[
        str | None,
        typer.Option(
            help="Practitioner/ID the token acts for, registered by the facility "
            "(required with ETREAT)"
        ),
    ] = None,
) -> None:
    from hub.auth.acting import PractitionerError
    from hub.auth.purpose import PurposeError, resolve_purpose
    from hub.auth.scopes import ScopeError, parse_scopes
    from hub.auth.service import acting_practitioner, get_issuer
    from hub.db import session_scope
    from hub.migrate import upgrade_database

    require_facility(facility, hub_allowed=True)
    if role is Role.patient and not patient:
        err.print("[red]a patient token needs --patient[/red]")
        raise typer.Exit(2)
    granted = scope or DEFAULT_SCOPES[role]
    try:
        parse_scopes(granted)
    except ScopeError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    try:
        purpose_of_use, purpose_reason = resolve_purpose(role, purpose, reason)
    except PurposeError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if practitioner:  # checked as the token endpoint checks it, in the store
        upgrade_database()
    try:
        with session_scope() as session:
            acting = acting_practitioner(session, role, facility, purpose_of_use, practitioner)
    except PractitionerError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    token, _ = get_issuer().issue(
        client_id=client_id,
        facility=facility,
        role=role,
        scope=granted,
        patient=patient,
        purpose_of_use=purpose_of_use,
        purpose_reason=purpose_reason,
        practitioner=acting,
    )
    typer.echo(token)
