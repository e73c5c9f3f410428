"""Running the ``hub`` console script as a subprocess, with the test environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

HUB = Path(sys.executable).with_name("hub")


def run_hub(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``hub ARGS``; the environment defaults to this process's (the test database)."""
    return subprocess.run(
        [str(HUB), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ if env is None else env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
