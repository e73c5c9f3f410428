"""``hub clients add|list|keygen`` and ``hub token``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hub.auth.roles import DEFAULT_SCOPES, Role

clients_app = typer.Typer(help="API clients (SMART Backend Services)", no_args_is_help=True)
err = Console(stderr=True)


def _require_facility(code: str) -> None:
    from hub.region.facilities import index_by_code, load_facilities

    if code != "HUB" and code not in index_by_code(load_facilities()):
        err.print(f"[red]unknown facility code {code!r} (see `hub facilities list`)[/red]")
        raise typer.Exit(2)


@clients_app.command("add", help="Register a client; prints its client_id on the last line.")
def clients_add(
    facility: Annotated[str, typer.Option(help="facility code, e.g. H001")],
    role: Annotated[Role, typer.Option(help="role the client acts in")],
    jwks: Annotated[Path, typer.Option(help="JWKS file with the client's public keys")],
    patient: Annotated[str | None, typer.Option(help="Patient id, for a patient app")] = None,
    scope: Annotated[str | None, typer.Option(help="most the client may be granted")] = None,
    description: Annotated[str | None, typer.Option(help="free text")] = None,
) -> None:
    from hub.auth.service import register_client
    from hub.auth.tokens import InvalidJwksError
    from hub.db import session_scope
    from hub.migrate import upgrade_database

    _require_facility(facility)
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


@clients_app.command("list", help="List registered clients.")
def clients_list() -> None:
    from sqlalchemy import select

    from hub.auth.models import ClientRow
    from hub.db import session_scope

    with session_scope() as session:
        for row in session.execute(select(ClientRow).order_by(ClientRow.created)).scalars():
            state = "active" if row.active else "disabled"
            typer.echo(f"{row.client_id}  {row.facility:8} {row.role:16} {state}  {row.scope}")


@clients_app.command("keygen", help="Make a key pair for a client: private JWK and public JWKS.")
def clients_keygen(
    out: Annotated[Path, typer.Option(help="directory for client.jwk.json and client.jwks.json")],
    alg: Annotated[str, typer.Option(help="ES256 or RS256")] = "ES256",
) -> None:
    from hub.auth.tokens import generate_signing_key, public_jwks

    out.mkdir(parents=True, exist_ok=True)
    private = generate_signing_key(alg)
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

    _require_facility(facility)
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
