"""Wrong input at the command line ends in one line on stderr and an exit code, never a traceback.

Exit codes shared by every command: 1 nothing found or nothing to do, 2 the input was refused.
An empty listing is an answer, not an error: it exits 0 and says so on stderr (scripts that
export and re-import must not stop on an empty facility).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import typer
from rich.console import Console

NOT_FOUND = 1
BAD_INPUT = 2

_stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int) -> typer.Exit:
    """Print ``message`` on stderr and return the exit to raise (``raise fail(...) from None``)."""
    _stderr.print(message, markup=False, style="red")
    return typer.Exit(code)


def nothing_listed(message: str) -> None:
    """Say on stderr that a listing is empty (its CSV header or ``[]`` is already on stdout)."""
    _stderr.print(message, markup=False)


@contextmanager
def domain_errors() -> Iterator[None]:
    """The hub's own refusals as exit codes: unknown ids exit 1, refused input exits 2. A
    database that cannot be reached or has no schema yet is diagnosed for every command at one
    place, ``hub.cli.startup.run``."""
    from hub.errors import FhirError, NotFound

    try:
        yield
    except NotFound as exc:
        raise fail(exc.diagnostics, NOT_FOUND) from None
    except FhirError as exc:
        raise fail(exc.diagnostics, BAD_INPUT) from None


def require_facility(code: str | None, *, hub_allowed: bool = False) -> None:
    """Refuse (exit 2) a facility code the region's registry does not have."""
    from hub.region.facilities import index_by_code, load_facilities

    if code is None or (hub_allowed and code == "HUB"):
        return
    if code not in index_by_code(load_facilities()):
        raise fail(f"unknown facility code {code!r} (see `hub facilities list`)", BAD_INPUT)


def as_utc(value: datetime | None) -> datetime | None:
    """A time typed without an offset means UTC (the log stores UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
