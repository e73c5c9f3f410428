"""bench/stack_load.py's arithmetic (bench/stack_figures.py): the mix and its users, the booking
burst's waits, per-operation figures, the queue gauge and its drain time."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from stack_figures import (
    ERROR,
    OK,
    REFUSED,
    Mix,
    Sample,
    burst_wait,
    drain_rate,
    drain_seconds,
    format_rows,
    gauge_value,
    summarise,
    thin,
    users_for,
)


def test_the_mix_scales_every_rate_and_users_offer_it_at_their_pace() -> None:
    peak = Mix().scaled(3)
    assert (peak.hl7_per_s, peak.reads_per_s, peak.settlements_per_s) == (300, 300, 60)
    assert peak.booking_attempts_per_s == 3000
    assert users_for(peak.booking_attempts_per_s, 4.0) == 750
    assert users_for(0.1, 2.0) == 1  # never no user at all


def test_booking_users_wait_for_the_release_pace_during_it_and_stop_after() -> None:
    assert burst_wait(now=10.0, start=30.0, end=90.0, pace_wait=0.25) == 20.0
    assert burst_wait(now=30.0, start=30.0, end=90.0, pace_wait=0.25) == 0.25
    assert burst_wait(now=89.9, start=30.0, end=90.0, pace_wait=0.25) == pytest.approx(0.1)
    assert burst_wait(now=90.0, start=30.0, end=90.0, pace_wait=0.25) >= 3600


def _samples() -> list[Sample]:
    reads = [Sample("read", float(n % 10), (n + 1) / 1000, OK, "200") for n in range(100)]
    reads[5] = Sample("read", 5.0, 2.0, ERROR, "502")
    holds = [
        Sample("hold", 50.0, 0.1, REFUSED, "409 slot-full"),
        Sample("hold", 51, 0.3, OK, "201"),
    ]
    return reads + holds


def test_figures_per_operation_count_rate_percentiles_errors_and_refusals() -> None:
    rows = {row.operation: row for row in summarise(_samples(), seconds=100.0)}
    read, hold = rows["read"], rows["hold"]
    assert (read.count, read.errors, read.refused) == (100, 1, 0)
    assert read.per_second == pytest.approx(1.0)
    # 1..100 ms with the 6 ms call replaced by a 2 s one: the middle pair is 51 and 52 ms
    assert read.p50_ms == pytest.approx(51.5)
    assert read.p99_ms > 100  # the outlier reaches the 99th percentile
    assert read.error_rate == pytest.approx(0.01)
    assert read.details == {"200": 99, "502": 1}
    assert (hold.count, hold.errors, hold.refused) == (2, 0, 1)  # a 409 is no error


def test_a_window_counts_the_calls_begun_in_it_over_its_length() -> None:
    rows = summarise(_samples(), seconds=100.0, window=(50.0, 60.0))
    assert [(row.operation, row.count, row.per_second) for row in rows] == [("hold", 2, 0.2)]


def test_rows_print_the_target_beside_the_rate() -> None:
    lines = format_rows(summarise(_samples(), seconds=100.0), {"read": 40.0})
    read = next(line for line in lines if line.strip().startswith("read"))
    assert "   1.0      40" in read and "502 x1" in read


EXPOSITION = """\
# HELP hub_hl7_inbox_messages HL7 v2 messages in the inbox by status
# TYPE hub_hl7_inbox_messages gauge
hub_hl7_inbox_messages{status="received"} 1234.0
hub_hl7_inbox_messages{status="dead"} 2.0
# TYPE hub_http_requests_total counter
hub_http_requests_total{route="/healthz",status="200"} 7.0
"""


def test_the_queue_gauge_is_read_from_the_exposition_by_its_labels() -> None:
    received = gauge_value(EXPOSITION, "hub_hl7_inbox_messages", {"status": "received"})
    assert received == 1234.0
    assert gauge_value(EXPOSITION, "hub_hl7_inbox_messages", {"status": "dead"}) == 2.0
    assert gauge_value(EXPOSITION, "hub_hl7_inbox_messages", {"status": "rejected"}) is None


def test_the_drain_time_counts_from_the_load_stop_to_the_first_empty_sample() -> None:
    depths = [(0.0, 0), (60.0, 900), (120.0, 1500), (180.0, 400), (200.0, 0), (205.0, 0)]
    assert drain_seconds(depths, load_stopped=120.0) == 80.0
    assert drain_seconds(depths[:4], load_stopped=120.0) is None  # not drained when sampling ended


def test_the_drain_rate_is_the_fall_after_the_stop_and_long_series_are_thinned() -> None:
    depths = [(0.0, 0), (60.0, 900), (125.0, 1500), (185.0, 900), (275.0, 0)]
    assert drain_rate(depths, load_stopped=120.0) == pytest.approx(1500 / 150)
    assert drain_rate(depths[:3], load_stopped=120.0) == 0.0  # one sample after the stop
    series = [(float(n), n) for n in range(100)]
    thinned = thin(series, 10)
    assert len(thinned) == 10 and thinned[0] == series[0] and thinned[-1] == series[-1]
    assert thin(series[:5], 10) == series[:5]
