"""The stack's configuration files from the templates in ``templates/`` (pure: text in, text out).

Placeholders are ``@{name}``: nginx's own ``$variables`` and braces stay as they are, and a
name the template uses but the layout does not give is an error, not an empty string.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from string import Template

from hub.stack.layout import Layout

PGBOUNCER_POOL_SIZE = 20  # server connections per database: PostgreSQL is shared with others


class _Template(Template):
    delimiter = "@"


def _render(name: str, **values: object) -> str:
    text = files("hub.stack").joinpath("templates", name).read_text(encoding="utf-8")
    return _Template(text).substitute({key: str(value) for key, value in values.items()})


def nginx_conf(layout: Layout) -> str:
    servers = "\n".join(
        f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;" for port in layout.api_ports
    )
    return _render(
        "nginx.conf",
        run_dir=layout.run_dir,
        logs=layout.logs,
        upstream_servers=servers,
        https_port=layout.https_port,
        nginx_status_port=layout.nginx_status_port,
        tls_cert=layout.tls_cert,
        tls_key=layout.tls_key,
    )


def pgbouncer_ini(layout: Layout) -> str:
    return _render(
        "pgbouncer.ini",
        database=layout.database,
        postgres_host=layout.postgres_host,
        postgres_port=layout.postgres_port,
        postgres_user=layout.postgres_user,
        pgbouncer_port=layout.pgbouncer_port,
        run_dir=layout.run_dir,
        pool_size=PGBOUNCER_POOL_SIZE,
    )


def pgbouncer_userlist(layout: Layout) -> str:
    return f'"{layout.postgres_user}" ""\n'  # trust: the name must be listed, no password


def prometheus_yml(layout: Layout, alert_rules: Path) -> str:
    return _render(
        "prometheus.yml",
        alert_rules=alert_rules,
        metrics_token_file=layout.metrics_token_file,
        api_targets=", ".join(f'"127.0.0.1:{port}"' for port in layout.api_ports),
        mllp_metrics_port=layout.mllp_metrics_port,
        worker_metrics_port=layout.worker_metrics_port,
        prometheus_port=layout.prometheus_port,
        nginx_exporter_port=layout.nginx_exporter_port,
    )
