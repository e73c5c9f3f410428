"""Reading a rich table printed by the ``hub`` CLI back, for tests."""

from __future__ import annotations


def column_text(table: str, index: int) -> str:
    """Everything in column ``index`` (1-based) of a rich table, top to bottom, without spaces:
    a value folded over several lines reads whole again."""
    pieces = []
    for line in table.splitlines():
        cells = line.split("│")
        if len(cells) > index + 1:
            pieces.append("".join(cells[index].split()))
    return "".join(pieces)
