"""The operators' command line: ``hub demo``, ``hub serve``, ``hub seed``, ``hub clients`` ..."""

from __future__ import annotations

from hub.cli.app import app
from hub.cli.startup import run


def main() -> None:
    run(app)


__all__ = ["app", "main"]
