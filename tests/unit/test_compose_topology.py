"""compose/ describes the topology scripts/stack runs: the same processes, the same Prometheus
jobs and rules, readiness as the API's healthcheck."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from hub.stack import render
from hub.stack.layout import Layout
from hub.stack.topology import processes

COMPOSE = Path(__file__).resolve().parents[2] / "compose"
# stack process -> compose service
SAME_SERVICE = {
    "pgbouncer": "pgbouncer", "api-1": "api", "api-2": "api", "mllp": "mllp",
    "worker": "worker-beat", "nginx": "gateway", "prometheus": "prometheus",
    "nginx-exporter": "nginx-exporter",
}  # fmt: skip


def _yaml(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def test_every_stack_process_is_a_compose_service() -> None:
    services = _yaml(COMPOSE / "docker-compose.yml")["services"]
    names = [spec.name for spec in processes(Layout(run_dir=Path("/x")), dict(os.environ))]
    assert set(names) == set(SAME_SERVICE)
    assert {SAME_SERVICE[name] for name in names} <= services.keys()
    assert {"postgres", "rabbitmq", "migrate", "worker"} <= services.keys()


def test_the_api_is_healthy_when_ready_and_pools_through_pgbouncer() -> None:
    api = _yaml(COMPOSE / "docker-compose.yml")["services"]["api"]
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    assert "@pgbouncer:5432/hub" in api["environment"]["HUB_DATABASE_URL"]
    assert api["environment"]["HUB_DB_PREPARED_STATEMENTS"] == "false"


def test_compose_prometheus_has_the_stack_jobs_and_rules(tmp_path: Path) -> None:
    compose = _yaml(COMPOSE / "prometheus" / "prometheus.yml")
    stack = yaml.safe_load(render.prometheus_yml(Layout(run_dir=tmp_path), Path("/r.yml")))
    jobs = [job["job_name"] for job in compose["scrape_configs"]]
    assert jobs == [job["job_name"] for job in stack["scrape_configs"]]
    api = compose["scrape_configs"][0]
    assert api["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
    assert compose["rule_files"] == ["/etc/prometheus/alerts.yml"]
    mounts = _yaml(COMPOSE / "docker-compose.yml")["services"]["prometheus"]["volumes"]
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts
