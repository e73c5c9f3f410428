"""`hub serve --workers`: 0 means one process per core on PostgreSQL; SQLite always one."""

from __future__ import annotations

import pytest

from hub.server import worker_count

PG = "postgresql+psycopg://hub@db/hub"


def test_zero_means_every_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert worker_count(0, PG) == 6


def test_a_count_asked_for_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert worker_count(3, PG) == 3


def test_an_unknown_core_count_is_one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert worker_count(0, PG) == 1


@pytest.mark.parametrize("requested", [0, 1, 4])
def test_sqlite_serves_from_one_process(requested: int) -> None:
    assert worker_count(requested, "sqlite:////home/hub/var/hub.db") == 1
