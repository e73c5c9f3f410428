"""Request ids and JSON log lines (hub/request_log.py) and the scrape-time gauge lines."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from hub.metric_lines import age_seconds, gauge_lines
from hub.request_log import (
    JsonFormatter,
    RequestIdFilter,
    current_request_id,
    request_id_from,
    reset_request_id,
    set_request_id,
)


def test_a_proxy_id_is_kept_and_anything_else_replaced() -> None:
    assert request_id_from("5f0c6a2b9e1d4c3ba7e8f9d0c1b2a3f4") == "5f0c6a2b9e1d4c3ba7e8f9d0c1b2a3f4"
    assert request_id_from("req-1.2_3") == "req-1.2_3"
    for bad in (None, "", "a b", 'x"y', "a\nb", "x" * 65):
        made = request_id_from(bad)
        assert made != bad and len(made) == 32 and made.isalnum()


def test_log_lines_are_json_with_the_request_id() -> None:
    record = logging.LogRecord("hub.api", logging.WARNING, __file__, 1, "slow %s", ("read",), None)
    token = set_request_id("abc")
    try:
        assert RequestIdFilter().filter(record)
        assert current_request_id() == "abc"
    finally:
        reset_request_id(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "abc" and line["message"] == "slow read"
    assert (line["level"], line["logger"]) == ("WARNING", "hub.api")
    assert current_request_id() == "-"  # outside a request


def test_gauge_lines_and_ages() -> None:
    assert gauge_lines("hub_x", "What x is", {'status="dead"': 2, "": 1.5}) == [
        "# HELP hub_x What x is", "# TYPE hub_x gauge", 'hub_x{status="dead"} 2', "hub_x 1.5",
    ]  # fmt: skip
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert age_seconds(None, now) == 0.0
    assert age_seconds(now - timedelta(minutes=2), now) == 120.0
    assert age_seconds(datetime(2026, 12, 7, 11, 59), now) == 60.0  # naive: UTC (SQLite)
    assert age_seconds(now + timedelta(seconds=5), now) == 0.0  # clock skew is not a lag
