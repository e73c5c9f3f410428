"""The stack's configuration files: rendered from the layout's ports, and accepted by the
programs that read them (nginx -t, promtool check config; .ci/run installs both)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from hub.stack import render
from hub.stack.control import alert_rules_file
from hub.stack.layout import Layout, layout_from_env
from hub.stack.secrets import ensure_certificate, ensure_secrets
from hub.stack.topology import processes

LAYOUT = Layout(run_dir=Path("/srv/stack"), https_port=9443, prometheus_port=9091, port_base=7000)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:  # a clear failure, never a skip: .ci/run installs the Debian package
        pytest.fail(f"{name} is not installed (apt-get install -y nginx prometheus)")
    return path


def test_the_layout_comes_from_hub_stack_variables() -> None:
    layout = layout_from_env(
        {"HUB_STACK_DIR": "/tmp/x", "HUB_STACK_HTTPS_PORT": "9443", "HUB_STACK_PORT_BASE": "7000",
         "HUB_STACK_DATABASE": "hub_x"}
    )  # fmt: skip
    assert layout.run_dir == Path("/tmp/x")
    assert (layout.https_port, layout.api_ports, layout.pgbouncer_port) == (
        9443,
        (7000, 7001),
        7002,
    )
    assert (layout.mllp_metrics_port, layout.worker_metrics_port) == (7003, 7004)
    assert (layout.nginx_status_port, layout.nginx_exporter_port) == (7005, 7006)
    assert (
        layout.postgres_url(via_pgbouncer=True)
        == "postgresql+psycopg://postgres@127.0.0.1:7002/hub_x"
    )
    assert layout_from_env({}).run_dir == Path("/tmp/hub-stack")
    default_url = "postgresql+psycopg://postgres@127.0.0.1:5432/hub_stack"
    assert layout_from_env({}).postgres_url() == default_url


def test_a_stack_can_run_on_another_postgresql_cluster_and_broker() -> None:
    layout = layout_from_env(
        {"HUB_STACK_POSTGRES_HOST": "127.0.0.2", "HUB_STACK_POSTGRES_PORT": "55432",
         "HUB_STACK_DATABASE": "hub_x", "HUB_STACK_PORT_BASE": "7000",
         "HUB_STACK_BROKER_URL": "amqp://guest:guest@127.0.0.1:55672//"}
    )  # fmt: skip
    assert layout.postgres_url() == "postgresql+psycopg://postgres@127.0.0.2:55432/hub_x"
    assert layout.postgres_url(via_pgbouncer=True) == (
        "postgresql+psycopg://postgres@127.0.0.1:7002/hub_x"
    )
    parser = configparser.ConfigParser()  # PgBouncer forwards to that cluster
    parser.read_string(render.pgbouncer_ini(layout))
    assert parser["databases"]["hub_x"] == "host=127.0.0.2 port=55432 dbname=hub_x user=postgres"
    assert layout.broker_url == "amqp://guest:guest@127.0.0.1:55672//"


def test_nginx_balances_both_replicas_over_tls_with_limits_and_failover() -> None:
    conf = render.nginx_conf(LAYOUT)
    assert "@{" not in conf
    assert "server 127.0.0.1:7000 max_fails=1" in conf and "server 127.0.0.1:7001 max_fails" in conf
    assert "listen 127.0.0.1:9443 ssl;" in conf
    assert "listen 127.0.0.1:7005;" in conf and "location = /stub_status { stub_status; }" in conf
    assert "ssl_certificate /srv/stack/tls/cert.pem;" in conf
    assert "client_max_body_size 6m;" in conf
    assert "proxy_next_upstream error timeout http_502 http_503;" in conf
    assert "proxy_set_header X-Request-ID $request_id;" in conf
    assert "access_log /srv/stack/logs/nginx-access.log hub;" in conf
    # idle upstream connections dropped before uvicorn closes them (5 s): a POST is never resent
    assert "keepalive_timeout 4s;" in conf


def test_nginx_accepts_the_rendered_configuration(tmp_path: Path) -> None:
    layout = Layout(run_dir=tmp_path, https_port=9443, port_base=7000)
    ensure_certificate(layout)
    for folder in ("nginx", "logs"):
        (tmp_path / folder).mkdir()
    conf = tmp_path / "nginx" / "nginx.conf"
    conf.write_text(render.nginx_conf(layout))
    result = subprocess.run(
        [_tool("nginx"), "-t", "-p", str(tmp_path / "nginx"), "-c", str(conf)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_pgbouncer_pools_transactions_in_front_of_the_stack_database() -> None:
    parser = configparser.ConfigParser()
    parser.read_string(render.pgbouncer_ini(LAYOUT))
    assert parser["pgbouncer"]["pool_mode"] == "transaction"
    assert parser["pgbouncer"]["listen_port"] == "7002"
    assert parser["pgbouncer"]["auth_type"] == "trust"
    # a PostgreSQL restart of 3 s must not turn into 15 s of refusals (bench/stack_faults.py)
    assert parser["pgbouncer"]["server_login_retry"] == "1"
    assert parser["databases"]["hub_stack"] == (
        "host=127.0.0.1 port=5432 dbname=hub_stack user=postgres"
    )
    assert render.pgbouncer_userlist(LAYOUT) == '"postgres" ""\n'


def test_prometheus_scrapes_every_process_and_promtool_accepts_it(tmp_path: Path) -> None:
    layout = Layout(run_dir=tmp_path, prometheus_port=9091, port_base=7000)
    ensure_secrets(layout)  # the scraper's token file, named in the configuration
    text = render.prometheus_yml(layout, alert_rules_file())
    for target in ('"127.0.0.1:7000", "127.0.0.1:7001"', "127.0.0.1:7003", "127.0.0.1:7004",
                   "127.0.0.1:7006", "127.0.0.1:9091"):  # fmt: skip
        assert target in text
    assert f"credentials_file: {tmp_path}/secrets/metrics_token" in text
    config = tmp_path / "prometheus.yml"
    config.write_text(text)
    result = subprocess.run([_tool("promtool"), "check", "config", str(config)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 11 rules found" in result.stdout


def test_secrets_are_private_and_kept_across_restarts(tmp_path: Path) -> None:
    layout = Layout(run_dir=tmp_path)
    first = ensure_secrets(layout)
    assert ensure_secrets(layout) == first
    assert layout.secrets_file.stat().st_mode & 0o777 == 0o600
    assert layout.metrics_token_file.read_text() == first["HUB_METRICS_TOKEN"]
    assert {"HUB_SIGNING_KEY", "HUB_AUDIT_HMAC_KEY", "HUB_AUDIT_CHECKPOINT_KEY"} <= first.keys()


def test_each_process_starts_after_those_it_reads_at_start_are_ready(tmp_path: Path) -> None:
    """prometheus-nginx-exporter exits when nginx's stub_status does not answer at its start
    (seen under load: `up` failed with "nginx-exporter exited"), so nginx gates it."""
    specs = processes(Layout(run_dir=tmp_path), {})
    names = [spec.name for spec in specs]
    for needed, reader in (("pgbouncer", "api-1"), ("api-2", "nginx"), ("nginx", "nginx-exporter")):
        assert names.index(needed) < names.index(reader)
        assert specs[names.index(needed)].gate, f"{reader} may start before {needed} is ready"
