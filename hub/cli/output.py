"""Listings for people and for scripts: one set of rows printed as a table, CSV or JSON.

Every listing command hands its rows (dicts) and column names to :func:`print_rows`. Tables
never cut a value: cells fold onto more lines, and when the columns cannot fit the terminal
(``COLUMNS``) each row is printed as a block of ``column  value`` lines instead. Times are ISO
8601 in UTC with their offset, in every format.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

Row = Mapping[str, object]
MIN_CELL = 8  # a column narrower than this folds a value into unreadable slivers
CELL_PADDING = 3  # rich's padding and the border between two columns


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", case_sensitive=False, help="table (for people), csv or json"),
]


def timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with its offset, to the second (naive values are taken as UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds")


def cell_text(value: object) -> str:
    """A value as one CSV field or table cell."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(cell_text(item) for item in value)
    return str(value)


def json_value(value: object) -> object:
    """A value as JSON keeps its type; times become ISO strings."""
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    return value


def print_rows(
    rows: Iterable[Row],
    columns: Sequence[str],
    output: OutputFormat,
    *,
    title: str | None = None,
    caption: str | None = None,
) -> int:
    """Print ``rows`` (only ``columns``, in that order) on stdout; returns how many there were.
    CSV and JSON stream, so a large export never sits in memory."""
    if output is OutputFormat.csv:
        return _print_csv(rows, columns)
    if output is OutputFormat.json:
        return _print_json(rows, columns)
    return _print_table(list(rows), columns, title, caption)


def _print_csv(rows: Iterable[Row], columns: Sequence[str]) -> int:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([cell_text(row.get(c)) for c in columns])
        count += 1
    return count


def _print_json(rows: Iterable[Row], columns: Sequence[str]) -> int:
    count = 0
    sys.stdout.write("[")
    for row in rows:
        item = {c: json_value(row.get(c)) for c in columns}
        sys.stdout.write(("," if count else "") + "\n  " + json.dumps(item, ensure_ascii=False))
        count += 1
    sys.stdout.write("\n]\n" if count else "]\n")
    return count


def _print_table(
    rows: list[Row], columns: Sequence[str], title: str | None, caption: str | None
) -> int:
    if not rows:
        return 0  # the caller says there was nothing, on stderr
    console = Console(highlight=False)
    needed = sum(max(len(c), MIN_CELL) + CELL_PADDING for c in columns) + 1
    if console.width >= needed:
        table = Table(title=title, caption=caption)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(Text(cell_text(row.get(c))) for c in columns))
        console.print(table)
    else:  # too narrow for side-by-side columns: one block per row
        if title:
            console.print(Text(title, style="bold"))
        for row in rows:
            console.print(_row_block(row, columns))
        if caption:
            console.print(Text(caption, style="italic"))
    return len(rows)


def _row_block(row: Row, columns: Sequence[str]) -> Group:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for column in columns:
        grid.add_row(column, Text(cell_text(row.get(column))))
    return Group(grid, Text(""))
