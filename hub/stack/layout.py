"""Where the stack puts things: its run directory, its ports, its database and broker.

Everything comes from ``HUB_STACK_*`` variables with defaults for one machine, so tests (and a
second stack) pick their own ports and directory, and a stack can run on another PostgreSQL
cluster (``HUB_STACK_POSTGRES_HOST``/``_PORT``) and broker (``HUB_STACK_BROKER_URL``), as the
fault tests do (bench/stack_faults.py). Runtime files live only under the run dir.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_RUN_DIR = "/tmp/hub-stack"


@dataclass(frozen=True)
class Layout:
    run_dir: Path
    https_port: int = 8443
    prometheus_port: int = 9090
    mllp_port: int = 2575
    # the internal ports, seven from here on: two API replicas, PgBouncer, the listener's and
    # the worker's metrics, nginx's stub_status, the nginx exporter
    port_base: int = 8101
    api_workers: int = 2  # uvicorn processes per replica
    worker_concurrency: int = 2  # Celery pool processes
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_user: str = "postgres"
    database: str = "hub_stack"
    broker_url: str = "amqp://guest:guest@127.0.0.1:5672//"

    @property
    def api_ports(self) -> tuple[int, int]:
        return self.port_base, self.port_base + 1

    @property
    def pgbouncer_port(self) -> int:
        return self.port_base + 2

    @property
    def mllp_metrics_port(self) -> int:
        return self.port_base + 3

    @property
    def worker_metrics_port(self) -> int:
        return self.port_base + 4

    @property
    def nginx_status_port(self) -> int:
        return self.port_base + 5

    @property
    def nginx_exporter_port(self) -> int:
        return self.port_base + 6

    @property
    def logs(self) -> Path:
        return self.run_dir / "logs"

    @property
    def state_file(self) -> Path:
        """pids, ports, log files and URLs of the running stack (JSON, for tools and tests)."""
        return self.run_dir / "stack.json"

    @property
    def secrets_file(self) -> Path:
        return self.run_dir / "secrets" / "hub.json"

    @property
    def metrics_token_file(self) -> Path:
        return self.run_dir / "secrets" / "metrics_token"

    @property
    def tls_cert(self) -> Path:
        return self.run_dir / "tls" / "cert.pem"

    @property
    def tls_key(self) -> Path:
        return self.run_dir / "tls" / "key.pem"

    @property
    def public_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def celery_queue(self) -> str:
        return f"hub-stack-{self.database}"  # its own queue on a broker others share

    def postgres_url(self, *, database: str | None = None, via_pgbouncer: bool = False) -> str:
        host, port = self.postgres_host, self.postgres_port
        if via_pgbouncer:
            host, port = "127.0.0.1", self.pgbouncer_port
        name = database or self.database
        return f"postgresql+psycopg://{self.postgres_user}@{host}:{port}/{name}"


def layout_from_env(env: Mapping[str, str] | None = None) -> Layout:
    env = os.environ if env is None else env
    return Layout(
        run_dir=Path(env.get("HUB_STACK_DIR", DEFAULT_RUN_DIR)).absolute(),
        https_port=int(env.get("HUB_STACK_HTTPS_PORT", "8443")),
        prometheus_port=int(env.get("HUB_STACK_PROMETHEUS_PORT", "9090")),
        mllp_port=int(env.get("HUB_STACK_MLLP_PORT", "2575")),
        port_base=int(env.get("HUB_STACK_PORT_BASE", "8101")),
        api_workers=int(env.get("HUB_STACK_API_WORKERS", "2")),
        worker_concurrency=int(env.get("HUB_STACK_WORKER_CONCURRENCY", "2")),
        postgres_host=env.get("HUB_STACK_POSTGRES_HOST", Layout.postgres_host),
        postgres_port=int(env.get("HUB_STACK_POSTGRES_PORT", str(Layout.postgres_port))),
        database=env.get("HUB_STACK_DATABASE", "hub_stack"),
        broker_url=env.get("HUB_STACK_BROKER_URL", Layout.broker_url),
    )
