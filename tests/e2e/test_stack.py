"""``scripts/stack`` end to end, as an operator and a facility system use it: up, a FHIR create
through nginx over TLS with a token, status, a backup restored into a fresh database whose
audit chain verifies, down. Non-default ports and a database of its own; one uvicorn process per
replica and one Celery pool process, to keep it short."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hub.auth.access_tokens import TokenIssuer
from hub.auth.purpose import DEFAULT_PURPOSE
from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.auth.service import load_signing_key
from hub.settings import Settings
from hub.stack.layout import Layout, layout_from_env
from hub.stack.processes import Running
from tests.postgres import drop_database

ROOT = Path(__file__).resolve().parents[2]
STACK = str(ROOT / "scripts" / "stack")
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first: int = probe.getsockname()[1]
        if first + count < 65535 and all(_free(first + i) for i in range(count)):
            return first
    raise RuntimeError("no run of free ports")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Stack:
    env: dict[str, str]
    run_dir: Path
    started: float

    def run(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run([STACK, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    run_dir = Path(tempfile.mkdtemp(prefix="hub-stack-test-"))
    run_dir.chmod(0o755)  # PgBouncer runs as postgres when we are root
    ports = _free_ports(10)
    database = f"hub_stack_test_{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_STACK_DIR=str(run_dir), HUB_STACK_PORT_BASE=str(ports),
        HUB_STACK_HTTPS_PORT=str(ports + 7), HUB_STACK_PROMETHEUS_PORT=str(ports + 8),
        HUB_STACK_MLLP_PORT=str(ports + 9), HUB_STACK_DATABASE=database,
        HUB_STACK_API_WORKERS="1", HUB_STACK_WORKER_CONCURRENCY="1",
    )  # fmt: skip
    stack = Stack(env, run_dir, time.monotonic())
    try:
        yield stack
    finally:
        stack.run("down", timeout=120)
        for name in (database, f"{database}_restored"):
            drop_database(ADMIN_URL, name)
        shutil.rmtree(run_dir, ignore_errors=True)


def _practitioner_token(stack: Stack, layout: Layout) -> str:
    """A token signed with the key `up` generated (as `scripts/stack hub token` makes one,
    without another process start)."""
    secrets = json.loads(layout.secrets_file.read_text())
    settings = Settings(signing_key=secrets["HUB_SIGNING_KEY"])
    issuer = TokenIssuer(load_signing_key(settings), issuer=layout.public_url,
                         audience=f"{layout.public_url}/fhir", ttl_seconds=300)  # fmt: skip
    token, _ = issuer.issue(client_id="stack-test", facility="H001", role=Role.practitioner,
                            scope=DEFAULT_SCOPES[Role.practitioner],
                            purpose_of_use=DEFAULT_PURPOSE[Role.practitioner])  # fmt: skip
    return token


def _scraped_jobs(layout: Layout, timeout: float = 90) -> set[str]:
    """The jobs once Prometheus has scraped every target successfully (its first scrapes come
    within one 15 s interval of start), or what it had at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        targets = httpx.get(f"{layout.prometheus_url}/api/v1/targets", timeout=10).json()
        active = targets["data"]["activeTargets"]
        if (active and all(t["health"] == "up" for t in active)) or time.monotonic() > deadline:
            return {t["labels"]["job"] for t in active if t["health"] == "up"}
        time.sleep(1)


def _state(stack: Stack) -> dict[str, object]:
    data: dict[str, object] = json.loads((stack.run_dir / "stack.json").read_text())
    return data


def test_up_serves_fhir_over_tls_then_status_backup_restore_and_down(stack: Stack) -> None:
    up = stack.run("up")
    assert up.returncode == 0, up.stdout + up.stderr
    layout = layout_from_env(stack.env)
    assert f"api         {layout.public_url}" in up.stdout
    assert f"prometheus  {layout.prometheus_url}" in up.stdout

    token = _practitioner_token(stack, layout)
    patient = {"resourceType": "Patient", "gender": "female", "birthDate": "1980-01-02",
               "name": [{"family": "王", "given": ["芳"]}],
               "managingOrganization": {"reference": "Organization/H001"}}  # fmt: skip
    trust = ssl.create_default_context(cafile=str(layout.tls_cert))  # the certificate of `up`
    with httpx.Client(base_url=layout.public_url, verify=trust, timeout=30) as web:
        created = web.post(
            "/fhir/Patient",
            json=patient,
            headers={"Authorization": f"Bearer {token}",
                     "Content-Type": "application/fhir+json"},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        assert created.headers["Location"].startswith(f"{layout.public_url}/fhir/Patient/")
        assert web.get("/readyz").json()["checks"] == {"database": "ok", "broker": "ok"}
    request_id = created.headers["X-Request-ID"]  # nginx's $request_id, kept by the hub
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    api_lines = [json.loads(line) for name in ("api-1", "api-2")
                 for line in (layout.logs / f"{name}.log").read_text().splitlines()
                 if request_id in line]  # fmt: skip
    assert any("POST /fhir/Patient" in line["message"] for line in api_lines)
    assert request_id in (layout.logs / "nginx-access.log").read_text()

    status = stack.run("status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    rows = json.loads(status.stdout)
    assert [row["name"] for row in rows] == [
        "pgbouncer", "api-1", "api-2", "mllp", "worker", "nginx", "nginx-exporter", "prometheus",
    ]  # fmt: skip
    assert all(row["alive"] and row["ready"] for row in rows)
    assert _scraped_jobs(layout) == {"hub-api", "hub-mllp", "hub-worker", "nginx", "prometheus"}

    dump = stack.run_dir / "backup.dump"
    assert stack.run("backup", str(dump)).returncode == 0
    restored = f"{layout.database}_restored"
    restore = stack.run("restore", str(dump), "--database", restored)
    assert restore.returncode == 0, restore.stderr
    verify = subprocess.run([STACK, "hub", "audit", "verify"],
                            env=stack.env | {"HUB_STACK_DATABASE": restored},
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert re.search(r"audit chain intact up to record [1-9]", verify.stdout + verify.stderr)

    processes = [Running.from_json(p) for p in _state(stack)["processes"]]  # type: ignore[attr-defined]
    down = stack.run("down", timeout=120)
    assert down.returncode == 0, down.stderr
    assert not any(process.alive() for process in processes)
    assert not (stack.run_dir / "stack.json").exists()
    assert stack.run("status").returncode == 1
    # How long the round trip took is printed, not asserted: a speed bound belongs in bench/,
    # and on two loaded cores this one failed a correct stack (CI, 2026-12-07).
    print(f"the stack's round trip took {time.monotonic() - stack.started:.0f} s")
