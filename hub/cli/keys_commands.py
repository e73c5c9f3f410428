"""``hub keys``: field-key status and online rotation (see README, "Keys")."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hub.cli.errors import domain_errors
from hub.cli.output import FormatOption, OutputFormat, print_rows
from hub.cli.progress import progress_bar

keys_app = typer.Typer(help="Field encryption keys: status and rotation", no_args_is_help=True)
console = Console(stderr=True)


KEY_COLUMNS = ("column", "key_id", "state", "values")


@keys_app.command("status", help="How many stored values remain under each key id.")
def keys_status(output: FormatOption = OutputFormat.table) -> None:
    from hub.db import get_engine
    from hub.security.fields import get_cipher
    from hub.security.rotation import blind_index_state, sealed_value_counts

    cipher, engine = get_cipher(), get_engine()
    with domain_errors():
        counts = sealed_value_counts(engine)
    rows = []
    for column, by_key in counts.items():
        for key_id, values in sorted(by_key.items()):
            if key_id == cipher.active_key_id:
                state = f"{cipher.algorithm_of(key_id)} (active)"
            elif key_id in cipher.keys:
                state = f"{cipher.algorithm_of(key_id)} (to rotate)"
            else:
                state = "not configured"
            rows.append({"column": column, "key_id": key_id, "state": state, "values": values})
    print_rows(rows, KEY_COLUMNS, output, title="sealed values")
    remaining = sum(
        n for by_key in counts.values() for k, n in by_key.items() if k != cipher.active_key_id
    )
    console.print(f"active key {cipher.active_key_id!r}; {remaining} values under other keys")
    console.print(f"blind index ({cipher.blind_algorithm}): {blind_index_state(engine, cipher)}")


@keys_app.command("rotate", help="Re-seal every stored value under the active key (online).")
def keys_rotate(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="rows per transaction")] = 500,
) -> None:
    from hub.db import get_engine
    from hub.security.fields import get_cipher
    from hub.security.rotation import BlindIndexMismatch, rotate_keys, rows_to_rotate

    cipher, engine = get_cipher(), get_engine()
    total = rows_to_rotate(engine, cipher)
    try:
        with progress_bar(f"re-sealing under {cipher.active_key_id}", total) as advance:
            results = rotate_keys(engine, cipher, batch_size=batch_size, progress=advance)
    except BlindIndexMismatch as exc:
        console.print(f"[red]refused: {exc}[/red]")
        raise typer.Exit(2) from None
    table = Table("column", "rotated", "conflicts retried", "unreadable")
    for r in results:
        table.add_row(r.column, str(r.rotated), str(r.conflicts), str(r.unreadable))
    Console().print(table)
    rotated = sum(r.rotated for r in results)
    unreadable = sum(r.unreadable for r in results)
    console.print(f"rotated {rotated} rows to key {cipher.active_key_id!r}")
    if unreadable:
        console.print(f"[red]{unreadable} rows hold values no configured key opens[/red]")
        raise typer.Exit(1)
