"""scripts/import_cycles.py: it names a planted circle, function-level imports included, and
finds none in the hub's packages (the four circles of issue 14 stay removed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "import_cycles.py"


def _run(*packages: str, path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if path is not None:
        env["PYTHONPATH"] = str(path)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *packages], capture_output=True, text=True, env=env
    )


def test_a_circle_dodged_inside_a_function_is_found(tmp_path: Path) -> None:
    package = tmp_path / "circled"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "store.py").write_text("from circled import hooks\n")
    (package / "hooks.py").write_text("def load() -> None:\n    from circled import store\n")
    (package / "alone.py").write_text("from circled import store\n")
    result = _run("circled", path=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "import circle: circled.hooks <-> circled.store"


def test_the_hub_has_no_import_circle() -> None:
    result = _run()
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
