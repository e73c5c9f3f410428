"""``up``, ``down`` and ``status``: the stack as a whole, recorded in the run dir's stack.json."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hub.home import checkout_root
from hub.stack import render
from hub.stack.database import ensure_database
from hub.stack.layout import Layout
from hub.stack.processes import NotReady, Running, start, stop, wait_ready
from hub.stack.secrets import ensure_certificate, ensure_secrets
from hub.stack.topology import HUB, hub_env, processes

READY_TIMEOUT_SECONDS = 60.0
STOP_GRACE_SECONDS = 10.0
TOOLS = {  # -> its Debian package
    "nginx": "nginx", "pgbouncer": "pgbouncer", "prometheus": "prometheus",
    "prometheus-nginx-exporter": "prometheus-nginx-exporter",
}  # fmt: skip


class StackError(RuntimeError):
    """Why the stack could not start (a message for the operator; the CLI exits with 1)."""


def alert_rules_file() -> Path:
    root = checkout_root()
    if root is None:
        raise StackError("scripts/stack runs from a checkout (compose/prometheus/alerts.yml)")
    return root / "compose" / "prometheus" / "alerts.yml"


def ensure_tools() -> None:
    """nginx, pgbouncer and prometheus: installed when missing if we are root (like .ci/run)."""
    missing = [package for tool, package in TOOLS.items() if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        raise StackError(f"missing: {' '.join(missing)} (as root: apt-get install -y ...)")
    subprocess.run(["apt-get", "install", "-y", *missing], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip


def write_configs(layout: Layout) -> None:
    run = layout.run_dir
    for folder in ("nginx", "pgbouncer", "prometheus", "logs", "home"):
        (run / folder).mkdir(parents=True, exist_ok=True)
    (run / "nginx" / "nginx.conf").write_text(render.nginx_conf(layout))
    (run / "pgbouncer" / "pgbouncer.ini").write_text(render.pgbouncer_ini(layout))
    (run / "pgbouncer" / "userlist.txt").write_text(render.pgbouncer_userlist(layout))
    rules = alert_rules_file()
    (run / "prometheus" / "prometheus.yml").write_text(render.prometheus_yml(layout, rules))
    for number in range(1, len(layout.api_ports) + 1):  # counters of the last run are gone
        metrics = run / f"api-{number}" / "metrics"
        shutil.rmtree(metrics, ignore_errors=True)
        metrics.mkdir(parents=True)


@dataclass(frozen=True)
class Status:
    name: str
    pid: int
    port: int | None
    alive: bool
    ready: bool
    log: str


def load_state(layout: Layout) -> list[Running]:
    if not layout.state_file.exists():
        return []
    data = json.loads(layout.state_file.read_text())
    return [Running.from_json(item) for item in data["processes"]]


def save_state(layout: Layout, running: list[Running]) -> None:
    data = {
        "run_dir": str(layout.run_dir),
        "urls": urls(layout),
        "database": layout.database,
        "secrets": str(layout.secrets_file),
        "tls_cert": str(layout.tls_cert),
        "processes": [process.as_json() for process in running],
    }
    layout.state_file.write_text(json.dumps(data, indent=1))


def urls(layout: Layout) -> dict[str, str]:
    return {
        "api": layout.public_url,
        "prometheus": layout.prometheus_url,
        "mllp": f"127.0.0.1:{layout.mllp_port}",
    }


def up(layout: Layout) -> list[Running]:
    if any(process.alive() for process in load_state(layout)):
        raise StackError(f"already up ({layout.state_file}); scripts/stack down first")
    ensure_tools()
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    secrets = ensure_secrets(layout)
    ensure_certificate(layout)
    write_configs(layout)
    env = hub_env(layout, secrets, os.environ)
    ensure_database(layout)
    _seed(layout, env)
    running: list[Running] = []
    try:
        for spec in processes(layout, env):
            running.append(start(spec, layout.logs))
            save_state(layout, running)  # a failed `up` still leaves what `down` must stop
            if spec.gate:
                wait_ready(running, READY_TIMEOUT_SECONDS)
        wait_ready(running, READY_TIMEOUT_SECONDS)
    except NotReady as exc:
        stop(running, STOP_GRACE_SECONDS)
        raise StackError(str(exc)) from None
    return running


def _seed(layout: Layout, env: dict[str, str]) -> None:
    """Schema migrations and the region's facility registry (idempotent), as compose's
    one-shot ``migrate`` service does."""
    log = layout.logs / "seed.log"
    with log.open("ab") as out:
        result = subprocess.run([*HUB, "seed"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                check=False)  # fmt: skip
    if result.returncode != 0:
        raise StackError(f"hub seed failed; its log: {log}")


def down(layout: Layout) -> list[str]:
    running = load_state(layout)
    stopped = [process.name for process in running if process.alive()]
    stop(list(reversed(running)), STOP_GRACE_SECONDS)
    layout.state_file.unlink(missing_ok=True)
    return stopped


def status(layout: Layout) -> list[Status]:
    return [
        Status(
            process.name,
            process.pid,
            process.port,
            alive := process.alive(),
            alive and process.probe.ready(Path(process.log)),
            process.log,
        )
        for process in load_state(layout)
    ]
