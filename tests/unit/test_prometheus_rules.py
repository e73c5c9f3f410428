"""The alert rules (compose/prometheus/alerts.yml): valid, and firing on the series they watch
(compose/prometheus/alerts_test.yml). promtool ships with the prometheus package."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from hub.stack.control import alert_rules_file


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:  # fail, never skip: .ci/run installs the prometheus package
        pytest.fail("promtool is not installed (apt-get install -y prometheus)")
    rules = alert_rules_file()
    return subprocess.run([promtool, *args], cwd=rules.parent, capture_output=True, text=True,
                          check=False)  # fmt: skip


def test_the_alert_rules_are_valid() -> None:
    result = _promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 11 rules found" in result.stdout


def test_the_alerts_fire_on_what_they_watch() -> None:
    result = _promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_backlog_the_api_exports_has_an_alert() -> None:
    rules = alert_rules_file().read_text()
    for metric in ("hub_http_requests_total", "hub_http_request_duration_seconds_bucket",
                   'hub_hl7_inbox_messages{status="received"}',
                   'hub_hl7_inbox_messages{status="dead"}',
                   "hub_hl7_inbox_oldest_waiting_seconds", 'hub_outbox_messages{status="dead"}',
                   "hub_outbox_delivery_lag_seconds", "hub_audit_chain_lag_seconds",
                   'hub_mpi_reviews{status="open"}', "up"):  # fmt: skip
        assert metric in rules
