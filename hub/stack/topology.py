"""The stack's processes, in start order: what each runs, its environment and its probe.

The API replicas reach PostgreSQL through PgBouncer (transaction mode, so no server-side
prepared statements); the MLLP listener and the worker connect directly, because outbound
delivery holds a session-level advisory lock for a whole round (adapters/outbound/delivery.py),
which transaction pooling would hand to another client.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping

from hub.region.facilities import load_facilities
from hub.stack.layout import Layout
from hub.stack.processes import Probe, ProcessSpec

HUB = [sys.executable, "-m", "hub.cli"]
CELERY_READY = "ready."  # Celery's "celery@host ready." once it consumes


def hub_env(layout: Layout, secrets: Mapping[str, str], base: Mapping[str, str]) -> dict[str, str]:
    """The environment of every hub process: the caller's without its HUB_ settings, then the
    stack's (production, its own home under the run dir, keys from the run dir)."""
    env = {k: v for k, v in base.items() if not k.startswith(("HUB_", "PROMETHEUS_MULTIPROC"))}
    local_senders = {f.code: ["127.0.0.1"] for f in load_facilities()}
    env.update(secrets)
    env.update(
        HUB_HOME=str(layout.run_dir / "home"),
        HUB_QUIET="1",
        HUB_ENVIRONMENT="production",
        HUB_DATABASE_URL=layout.postgres_url(),
        HUB_PUBLIC_BASE_URL=layout.public_url,
        HUB_CELERY_BROKER_URL=layout.broker_url,
        HUB_CELERY_QUEUE=layout.celery_queue,
        HUB_LOG_FORMAT="json",
        HUB_MLLP_HOST="127.0.0.1",
        HUB_MLLP_PORT=str(layout.mllp_port),
        # one machine: facilities' feeds come from this host (client certificates in a site)
        HUB_MLLP_PLAINTEXT_SOURCES=json.dumps(local_senders),
    )
    return env


def processes(layout: Layout, env: Mapping[str, str]) -> list[ProcessSpec]:
    run = layout.run_dir
    as_postgres = ["-u", "postgres"] if os.geteuid() == 0 else []  # pgbouncer refuses root
    specs = [
        ProcessSpec(
            "pgbouncer",
            ["pgbouncer", *as_postgres, str(run / "pgbouncer" / "pgbouncer.ini")],
            Probe("sql", _libpq_url(layout)),
            layout.pgbouncer_port,
            gate=True,  # the replicas' readiness needs it
        )
    ]
    for number, port in enumerate(layout.api_ports, start=1):
        api_env = dict(env)
        api_env.update(
            HUB_DATABASE_URL=layout.postgres_url(via_pgbouncer=True),
            HUB_DB_PREPARED_STATEMENTS="false",
            HUB_DB_POOL_SIZE="5",
            PROMETHEUS_MULTIPROC_DIR=str(run / f"api-{number}" / "metrics"),
        )
        specs.append(
            ProcessSpec(
                f"api-{number}",
                [
                    *HUB,
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    str(layout.api_workers),
                ],
                Probe("http", f"http://127.0.0.1:{port}/readyz"),
                port,
                api_env,
                gate=number == len(layout.api_ports),  # nginx's readiness needs them
            )
        )
    specs += [
        ProcessSpec(
            "mllp",
            [*HUB, "mllp", "--metrics-port", str(layout.mllp_metrics_port)],
            Probe("tcp", str(layout.mllp_port)),
            layout.mllp_port,
            dict(env),
        ),
        ProcessSpec(
            "worker",
            [
                *HUB,
                "worker",
                "--concurrency",
                str(layout.worker_concurrency),
                "--beat",
                "--metrics-port",
                str(layout.worker_metrics_port),
            ],
            Probe("log", CELERY_READY),
            layout.worker_metrics_port,
            dict(env),
        ),
        ProcessSpec(
            "nginx",
            [
                "nginx",
                "-p",
                str(run / "nginx"),
                "-c",
                str(run / "nginx" / "nginx.conf"),
                "-g",
                "daemon off;",
            ],
            Probe("http", f"{layout.public_url}/readyz", str(layout.tls_cert)),
            layout.https_port,
            gate=True,  # the exporter reads its stub_status at start and exits if it cannot
        ),
        ProcessSpec(
            "nginx-exporter",
            [
                "prometheus-nginx-exporter",
                f"-nginx.scrape-uri=http://127.0.0.1:{layout.nginx_status_port}/stub_status",
                f"-web.listen-address=127.0.0.1:{layout.nginx_exporter_port}",
            ],
            Probe("http", f"http://127.0.0.1:{layout.nginx_exporter_port}/metrics"),
            layout.nginx_exporter_port,
        ),
        ProcessSpec(
            "prometheus",
            [
                "prometheus",
                f"--config.file={run / 'prometheus' / 'prometheus.yml'}",
                f"--storage.tsdb.path={run / 'prometheus' / 'data'}",
                f"--web.listen-address=127.0.0.1:{layout.prometheus_port}",
            ],
            Probe("http", f"{layout.prometheus_url}/-/ready"),
            layout.prometheus_port,
        ),
    ]
    return specs


def _libpq_url(layout: Layout) -> str:
    return layout.postgres_url(via_pgbouncer=True).replace("postgresql+psycopg", "postgresql")
