"""The README's code blocks, as a new user would run them, top to bottom.

Every fenced ```bash and ```python block runs, in order, in one shell session (variables set in
one block reach the later ones, and the Python blocks through the environment), from an empty
folder, with the hub's ``.venv/bin`` on PATH as the README says. A block preceded by the comment
``<!-- readme: not run: REASON -->`` is not run; the reason is required.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(\w*)\s*$")
_NOT_RUN = re.compile(r"<!--\s*readme:\s*not run:\s*(\S.*?)\s*-->")


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    language: str
    text: str
    not_run: str | None  # the reason, when the README says the block is not run


def readme_blocks(text: str) -> list[Block]:
    """The fenced blocks of ``text`` (code of every language; the caller picks)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    at = 0
    while at < len(lines):
        opening = _FENCE.match(lines[at])
        if opening is None:
            at += 1
            continue
        end = next((k for k in range(at + 1, len(lines)) if lines[k].startswith("```")), None)
        if end is None:
            raise ValueError(f"README line {at + 1}: a code block is never closed")
        above = "\n".join(lines[max(0, at - 2) : at])
        marked = _NOT_RUN.search(above)
        body = "\n".join(lines[at + 1 : end]) + "\n"
        blocks.append(Block(at + 1, opening[1], body, marked[1] if marked else None))
        at = end + 1
    return blocks


def shell_script(blocks: list[Block], work: Path, python: Path) -> str:
    """One bash script running the blocks in order, each announcing its line first so a
    failure names its block; ``set -e`` stops at the first failing command, and curl fails
    on an HTTP error status (what a reader would take for success otherwise)."""
    parts = [
        "set -euo pipefail",
        "set -a",  # every variable a block sets reaches the Python blocks
        'curl() { command curl --silent --show-error --fail-with-body "$@"; }',
    ]
    for number, block in enumerate(blocks):
        parts.append(f"echo '@@ block at README line {block.line}' >&2")
        if block.language == "python":
            path = work / f"block{number}.py"
            path.write_text(block.text, encoding="utf-8")
            parts.append(f"{python} {path}")
        else:
            path = work / f"block{number}.sh"
            path.write_text(block.text, encoding="utf-8")
            parts.append(f"source {path}")
    parts.append("echo '@@ all blocks ran' >&2")
    return "\n".join(parts) + "\n"
