"""FHIR date, dateTime and instant values as half-open UTC ranges (hub.fhir.search.dates)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.fhir.search.dates import MAX_DT, MIN_DT, DateFormatError, date_range


def utc(year: int, month: int, day: int, *rest: int) -> datetime:
    return datetime(year, month, day, *rest, tzinfo=UTC)


# Values without a zone are read in Asia/Shanghai (UTC+8, no daylight saving since 1991).
@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        # year
        ("1980", utc(1979, 12, 31, 16), utc(1980, 12, 31, 16)),
        # month: February of a leap year, and December rolling into the next year
        ("1980-02", utc(1980, 1, 31, 16), utc(1980, 2, 29, 16)),
        ("2023-12", utc(2023, 11, 30, 16), utc(2023, 12, 31, 16)),
        # day
        ("1980-03-02", utc(1980, 3, 1, 16), utc(1980, 3, 2, 16)),
        ("2024-02-29", utc(2024, 2, 28, 16), utc(2024, 2, 29, 16)),
        # minute
        ("2024-05-06T10:20", utc(2024, 5, 6, 2, 20), utc(2024, 5, 6, 2, 21)),
        ("2024-05-06T10:20Z", utc(2024, 5, 6, 10, 20), utc(2024, 5, 6, 10, 21)),
        # second
        ("2024-05-06T10:20:30", utc(2024, 5, 6, 2, 20, 30), utc(2024, 5, 6, 2, 20, 31)),
        ("2024-05-06T10:20:30Z", utc(2024, 5, 6, 10, 20, 30), utc(2024, 5, 6, 10, 20, 31)),
        ("2024-05-06T10:20:30+02:00", utc(2024, 5, 6, 8, 20, 30), utc(2024, 5, 6, 8, 20, 31)),
        ("2024-05-06T10:20:30-05:30", utc(2024, 5, 6, 15, 50, 30), utc(2024, 5, 6, 15, 50, 31)),
        ("2024-05-06T10:20:30+08:00", utc(2024, 5, 6, 2, 20, 30), utc(2024, 5, 6, 2, 20, 31)),
        # fractions: the range is one unit of the last digit given
        (
            "2024-05-06T10:20:30.5Z",
            utc(2024, 5, 6, 10, 20, 30, 500000),
            utc(2024, 5, 6, 10, 20, 30, 600000),
        ),
        (
            "2024-05-06T10:20:30.123Z",
            utc(2024, 5, 6, 10, 20, 30, 123000),
            utc(2024, 5, 6, 10, 20, 30, 124000),
        ),
        (
            "2024-05-06T10:20:30.123456+01:00",
            utc(2024, 5, 6, 9, 20, 30, 123456),
            utc(2024, 5, 6, 9, 20, 30, 123457),
        ),
        (
            "2024-05-06T10:20:30.123456789Z",
            utc(2024, 5, 6, 10, 20, 30, 123456),
            utc(2024, 5, 6, 10, 20, 30, 123457),
        ),
        (
            "2024-05-06T10:20:30.25",
            utc(2024, 5, 6, 2, 20, 30, 250000),
            utc(2024, 5, 6, 2, 20, 30, 260000),
        ),
        # a day crossing midnight UTC when read in the region's zone
        ("2024-01-01T05:00:00", utc(2023, 12, 31, 21), utc(2023, 12, 31, 21, 0, 1)),
    ],
)
def test_date_range_precision(text: str, low: datetime, high: datetime) -> None:
    assert date_range(text) == (low, high)


def test_date_range_is_utc_and_half_open() -> None:
    low, high = date_range("1980-03-02")
    assert low.tzinfo is UTC and high.tzinfo is UTC
    # The next day starts exactly where this one ends.
    assert date_range("1980-03-03")[0] == high


def test_surrounding_whitespace_is_ignored() -> None:
    assert date_range(" 1980-03-02 ") == date_range("1980-03-02")


@pytest.mark.parametrize("text", ["9999", "9999-12", "9999-12-31", "9999-12-31T23:59:59Z"])
def test_latest_dates_clamp_to_max(text: str) -> None:
    low, high = date_range(text)
    assert low <= high <= MAX_DT


@pytest.mark.parametrize("text", ["0001", "0001-01", "0001-01-01", "0001-01-01T00:00:00Z"])
def test_earliest_dates_clamp_to_min(text: str) -> None:
    low, high = date_range(text)
    assert MIN_DT <= low <= high


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "80",
        "19800302",
        "1980-3-2",
        "1980-13",
        "1980-00",
        "1980-02-30",
        "2023-02-29",
        "1980-03-02Z",
        "1980-03-02T",
        "2024-05-06T10",
        "2024-05-06T25:00",
        "2024-05-06T10:60",
        "2024-05-06T10:20:61",
        "2024-05-06T10:20:30.",
        "2024-05-06T10:20:30.1234567890Z",
        "2024-05-06T10:20:30+0800",
        "2024-05-06T10:20:30+25:00",
        "2024-05-06T10:20:30 +08:00",
        "0000",
        "1980-03-02; DROP TABLE fhir_resource",
    ],
)
def test_invalid_dates_are_rejected(text: str) -> None:
    with pytest.raises(DateFormatError):
        date_range(text)
