"""Readiness, request ids and request metrics, against live hubs (uvicorn subprocesses)."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import METRICS_TOKEN
from tests.live import LiveHub, running_hub


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def hub_without_dependencies(database: str, run_dir: Path) -> Iterator[LiveHub]:
    """A hub whose database and broker are both unreachable (nothing listens on their ports)."""
    env = dict(os.environ)
    env["HUB_DATABASE_URL"] = f"postgresql+psycopg://hub@127.0.0.1:{_closed_port()}/hub"
    env["HUB_CELERY_BROKER_URL"] = f"amqp://guest:guest@127.0.0.1:{_closed_port()}//"
    with running_hub(env, run_dir / "server-unready.log") as hub:
        yield hub


def test_ready_when_the_database_answers(live_hub: LiveHub) -> None:
    response = httpx.get(f"{live_hub.base_url}/readyz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


def test_not_ready_when_the_database_and_broker_are_unreachable(
    hub_without_dependencies: LiveHub,
) -> None:
    base = hub_without_dependencies.base_url
    assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200  # alive all the same
    response = httpx.get(f"{base}/readyz", timeout=10)
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "unreachable", "broker": "unreachable"},
    }


def test_the_request_id_of_the_proxy_is_kept_and_a_forged_one_replaced(live_hub: LiveHub) -> None:
    kept = httpx.get(f"{live_hub.base_url}/healthz", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["X-Request-ID"] == "abc-123"
    forged = httpx.get(f"{live_hub.base_url}/healthz", headers={"X-Request-ID": 'x" y=' * 40})
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["X-Request-ID"])
    made = httpx.get(f"{live_hub.base_url}/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])


def test_requests_are_counted_by_route_template_and_backlogs_exported(
    live_hub: LiveHub, api: httpx.Client
) -> None:
    api.get("/Patient/no-such-patient-id")
    metrics = httpx.get(
        f"{live_hub.base_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    ).text
    route = "/fhir/{resource_type}/{resource_id}"
    pattern = re.escape(f'hub_http_requests_total{{route="{route}",status="404"}} ') + "[1-9]"
    assert re.search(pattern, metrics)
    assert "no-such-patient-id" not in metrics  # the template, never the path
    assert 'hub_http_request_duration_seconds_bucket{le="0.005",route="/healthz"}' in metrics
    for gauge in ('hub_outbox_messages{status="dead"} ', "hub_outbox_delivery_lag_seconds ",
                  'hub_mpi_reviews{status="open"} ', "hub_hl7_inbox_oldest_waiting_seconds ",
                  "hub_audit_chain_lag_seconds "):  # fmt: skip
        assert gauge in metrics
