"""The process's registry of active subscriptions (``adapters.outbound.subscriptions``): kept
between writes, yet a committed Subscription applies to the very next write, a rolled-back one
never notifies, another process's change applies within the refresh, and an ``end`` or an
Endpoint switched off stops notifications at once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from adapters.outbound import subscriptions
from hub.auth.actor import SYSTEM_ACTOR
from hub.db import session_scope
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import get_settings
from tests.integration.test_outbound_delivery import (
    _actor,
    _code,
    appointment,
    facility,
    patient,
    recorder,
    rows,
    write,
)

__all__ = ["recorder"]  # the outbox's dispatcher replaced for every test here (autouse)

BASE = "http://127.0.0.1:9/"  # never called: these tests look at the outbox only


def _subscriber() -> tuple[str, dict[str, Any]]:
    code = _code()
    facility(code, fhir_url=f"{BASE}{code}")
    return code, {
        "resourceType": "Subscription", "status": "active", "reason": "排班同步",
        "criteria": f"Appointment?location=Location/{code}-loc",
        "channel": {"type": "rest-hook", "endpoint": f"{BASE}{code}/notify"},
    }  # fmt: skip


def _book(writer: str, at: str) -> None:
    [pat] = write(_actor(writer), patient(writer))
    write(_actor(writer), appointment(pat["id"], at))


def _prime(writer: str) -> None:
    """A write that reads the subscriptions, so the registry holds them."""
    other = _code()
    facility(other)
    _book(writer, other)


def test_a_committed_subscription_applies_to_the_next_write() -> None:
    writer, (code, subscription) = _code(), _subscriber()
    facility(writer)
    _prime(writer)
    write(_actor(code), subscription)
    _book(writer, code)
    assert len(rows(code)) == 1


def test_a_rolled_back_subscription_never_notifies() -> None:
    writer, (code, subscription) = _code(), _subscriber()
    facility(writer)

    class Abandon(Exception):
        pass

    def listed() -> set[str]:
        # Another transaction of this process, read-only (SQLite: a deferred BEGIN, which the
        # uncommitted writer does not block); the same database URL, so the same registry.
        engine = create_engine(get_settings().database_url)
        try:
            with Session(engine) as other:
                kept = subscriptions.active_subscriptions(other, get_cipher(), "Appointment")
                return {s.subscription_id for s in kept}
        finally:
            engine.dispose()

    with pytest.raises(Abandon), session_scope() as session:
        store = FhirStore(session, _actor(code), get_cipher(), get_settings().fhir_base_url)
        created = store.create("Subscription", subscription).resource_id
        in_flight = subscriptions.active_subscriptions(session, get_cipher(), "Appointment")
        assert created in {s.subscription_id for s in in_flight}  # its own transaction sees it
        assert created not in listed()  # no other does, before its commit
        raise Abandon
    assert created not in listed()
    _book(writer, code)
    assert rows(code) == []


def test_a_savepoint_rolled_back_takes_its_subscription_with_it() -> None:
    _, (code, subscription) = _code(), _subscriber()
    with session_scope() as session:
        store = FhirStore(session, _actor(code), get_cipher(), get_settings().fhir_base_url)
        savepoint = session.begin_nested()  # as a batch Bundle runs each entry
        created = store.create("Subscription", subscription).resource_id

        def listed() -> set[str]:
            kept = subscriptions.active_subscriptions(session, get_cipher(), "Appointment")
            return {s.subscription_id for s in kept}

        assert created in listed()
        savepoint.rollback()  # the entry failed
        assert created not in listed()


def test_another_process_subscription_applies_within_the_refresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writer, (code, subscription) = _code(), _subscriber()
    facility(writer)
    _prime(writer)
    # Another process wrote it: nothing in this one heard of the change.
    monkeypatch.setattr(subscriptions.SHARED, "changed", lambda: None)
    write(_actor(code), subscription)
    monkeypatch.undo()
    later = time.monotonic() + subscriptions.REFRESH_SECONDS + 1
    monkeypatch.setattr(subscriptions.time, "monotonic", lambda: later)
    _book(writer, code)
    assert len(rows(code)) == 1


def test_an_end_that_passes_while_kept_stops_notifications() -> None:
    writer, (code, subscription) = _code(), _subscriber()
    facility(writer)
    end = datetime.now(UTC) + timedelta(seconds=2)
    write(_actor(code), dict(subscription, end=end.isoformat()))
    _book(writer, code)
    assert len(rows(code)) == 1
    time.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()) + 0.1)
    _book(writer, code)
    assert len(rows(code)) == 1


def test_an_endpoint_switched_off_stops_notifications_at_once() -> None:
    writer, (code, subscription) = _code(), _subscriber()
    facility(writer)
    write(_actor(code), subscription)
    _book(writer, code)
    assert len(rows(code)) == 1
    with session_scope() as session:
        store = FhirStore(session, SYSTEM_ACTOR, get_cipher(), get_settings().fhir_base_url)
        endpoint = store.read("Endpoint", f"{code}-ep0").as_dict()
        store.update("Endpoint", endpoint["id"], dict(endpoint, status="off"))
    _book(writer, code)
    assert len(rows(code)) == 1
