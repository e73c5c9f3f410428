"""What every ``hub`` command does around its work: say on stderr which hub it works on (home,
database, signing key, issuer), and turn a configuration it cannot read, or a database that is
unreachable or not migrated, into one line and an exit code instead of a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

import typer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from hub.settings import Settings, get_settings

CONFIG_ERROR_EXIT = 2
DATABASE_ERROR_EXIT = 1


def startup_line(settings: Settings) -> str:
    """One line naming the home (and its .env), the database, the signing key and the issuer."""
    env_file = settings.home / ".env"
    home = f"home {settings.home}" + (f" (+ {env_file.name})" if env_file.is_file() else "")
    key = "HUB_SIGNING_KEY" if settings.signing_key else f"{settings.signing_key_file} (dev)"
    issuer = settings.public_base_url
    if settings.public_base_url_origin == "served":
        issuer += f" (recorded in {settings.served_url_file})"
    parts = [home, f"database {settings.masked_database_url}", f"signing key {key}"]
    return "hub: " + " · ".join([*parts, f"issuer {issuer}"])


def announce(quiet: bool) -> None:
    """The startup line on stderr (stdout stays the command's: ``TOKEN=$(hub token ...)``).

    Settings that do not validate are reported by :func:`run` if the command reads them; a
    command that needs none (``hub audit keygen`` for a new production .env) still runs."""
    if quiet or "--help" in sys.argv[1:]:
        return
    try:
        settings = get_settings()
    except ValidationError:
        return
    typer.echo(startup_line(settings), err=True)


def configuration_problem(exc: ValidationError) -> str:
    """A settings validation error in one line, naming the variables."""
    problems = []
    for error in exc.errors():
        name = "HUB_" + "_".join(str(part) for part in error["loc"]).upper()
        message = error["msg"].removeprefix("Value error, ")
        named = not error["loc"] or name in message
        problems.append(message if named else f"{name}: {message}")
    return "configuration: " + "; ".join(problems)


def database_problem(settings: Settings) -> str | None:
    """Why the database cannot serve the hub (unreachable, no schema, an older schema), or None."""
    from hub.migrate import schema_revisions

    database = settings.masked_database_url
    try:
        current, latest = schema_revisions(settings)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"cannot open database {database}: {reason}"
    if current is None:
        return (
            f"database {database} has no schema: run `hub db upgrade` "
            "(or start `hub demo` first, for the demo's database)"
        )
    if current != latest:
        return (
            f"database {database} is at schema {current}, this hub needs {latest}: "
            "run `hub db upgrade`"
        )
    return None


def run(app: Callable[[], object]) -> None:
    """Run the typer app; the errors every command may meet become one line on stderr."""
    try:
        app()
    except ValidationError:
        try:
            get_settings()
        except ValidationError as settings_error:
            _fail(configuration_problem(settings_error), CONFIG_ERROR_EXIT)
        raise  # not the settings: a bug, with its traceback
    except DBAPIError:
        problem = database_problem(get_settings())
        if problem is None:
            raise  # the schema is fine: a bug, with its traceback
        _fail(problem, DATABASE_ERROR_EXIT)


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"hub: {message}", err=True)
    sys.exit(code)
