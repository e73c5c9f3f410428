"""The README's examples run as written against a live demo (issue 12: a new user follows the
README top to bottom). The demo is the README's own (``hub demo``: SQLite, MLLP listener,
processing in-process) with a small population, in a folder of its own; HOME is an empty
folder, so the examples' files (keys, exports) land there. Two things are rewritten in the
blocks, nothing else: the demo's ports (``127.0.0.1:8000`` and ``2575``) to free ones, and
``$PWD/.venv/bin`` to the virtualenv the tests run in (``scripts/_venv.sh`` puts it elsewhere
when ``HUB_VENV`` says so, as CI does)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.readme.readme_blocks import README, ROOT, readme_blocks, shell_script

RESIDENTS = 200  # enough for the examples' searches; the demo's default is 10,000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _user_environment(home: Path, var: Path) -> dict[str, str]:
    """A new user's environment: none of the test suite's HUB_ settings, the demo's own
    folder, an empty HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {"HOME": str(home), "HUB_VAR_DIR": str(var), "COLUMNS": "100"}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT))
    )
    return env


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], int, int]]:
    folder = tmp_path_factory.mktemp("readme")
    home, var = folder / "home", folder / "var"
    home.mkdir()
    env = _user_environment(home, var)
    port, mllp = _free_port(), _free_port()
    hub = str(Path(sys.executable).with_name("hub"))
    log = (folder / "demo.log").open("wb")
    command = [hub, "demo", "--residents", str(RESIDENTS), "--port", str(port),
               "--mllp-port", str(mllp)]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((folder / "demo.log").read_text()[-3000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        process.terminate()
        raise RuntimeError("the demo did not start within 240 s")
    yield env, port, mllp
    process.terminate()
    process.wait(timeout=30)
    log.close()


def test_every_block_not_run_says_why() -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    runnable = [b for b in blocks if b.language in ("bash", "python")]
    assert runnable, "the README has no examples"
    assert len([b for b in runnable if b.not_run is None]) > len(runnable) // 2


def test_the_readme_examples_run_as_written(
    demo: tuple[dict[str, str], int, int], tmp_path: Path
) -> None:
    env, port, mllp = demo
    text = README.read_text(encoding="utf-8")
    text = text.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace("2575", str(mllp))
    text = text.replace("$PWD/.venv/bin", str(Path(sys.executable).parent))
    blocks = [b for b in readme_blocks(text) if b.language in ("bash", "python") and not b.not_run]
    script = shell_script(blocks, tmp_path, Path(sys.executable))
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900, check=False)  # fmt: skip
    ran = [line for line in done.stderr.splitlines() if line.startswith("@@ ")]
    assert done.returncode == 0 and ran[-1] == "@@ all blocks ran", (
        f"stopped in the {ran[-1][3:] if ran else 'first block'} (exit {done.returncode})\n"
        f"--- stdout (end)\n{done.stdout[-3000:]}\n--- stderr (end)\n{done.stderr[-3000:]}"
    )
    # What the README's comments say the examples show:
    assert "MSA|AA|MSG0001" in done.stdout  # the HL7 v2 example is accepted
    assert '"total":0' in done.stdout  # the opted-out patient is hidden from H002
    twins = {line.split(",")[1]: line.split(",")[2] for line in done.stdout.splitlines()
             if line.startswith(("H001,A1,", "H001,A2,"))}  # fmt: skip
    assert len(twins) == 2 and twins["A1"] != twins["A2"]  # the twins stay two persons
