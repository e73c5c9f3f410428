"""A full slot is refused before the store writes anything, with the ledger's own answer and an
audit record; the ledger's conditional update stays the guarantee behind that advisory read."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import event, select

from hub.audit.models import AuditRecord
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.db import session_scope
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import get_settings
from referral.scheduling import ledger
from referral.scheduling.errors import BookingError
from tests.integration.booking_helpers import appointment, new_patient, new_slot, refusal

H001 = Actor.build(
    client_id="test-full-slot", facility="H001", role=Role.facility_system, scope="system/*.cruds"
)


def places(slot: str) -> int:
    with session_scope() as session:
        yesterday = datetime.now(UTC) - timedelta(days=1)
        return ledger.availability(session, [slot], yesterday)[slot].booked


def full_slot(api: httpx.Client) -> str:
    slot = new_slot(api, capacity=1)
    taken = api.post("/Appointment", json=appointment(slot, new_patient(api)))
    assert taken.status_code == 201, taken.text
    return slot


@contextmanager
def statements_run() -> Iterator[tuple[FhirStore, list[str]]]:
    """A store as H001 in one transaction (rolled back), and every statement it sends."""
    seen: list[str] = []

    test_thread = threading.get_ident()

    def record(conn: object, cursor: object, statement: str, *rest: object) -> None:
        if threading.get_ident() == test_thread:  # not the audit chainer's, nor the server's
            seen.append(" ".join(statement.split()).upper())

    with session_scope() as session:
        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", record)
        try:
            yield FhirStore(session, H001, get_cipher(), get_settings().fhir_base_url), seen
        finally:
            event.remove(engine, "before_cursor_execute", record)
            session.rollback()


def writes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.startswith(("INSERT", "UPDATE", "DELETE", "WITH"))]


def test_a_full_slot_is_refused_before_the_store_writes(api: httpx.Client) -> None:
    slot, patient = full_slot(api), new_patient(api)
    with statements_run() as (store, statements):
        with pytest.raises(BookingError) as refused:
            store.create("Appointment", appointment(slot, patient, key=f"late-{slot}"))
        assert (refused.value.reason, refused.value.status) == ("slot-full", 409)
        assert any("BOOKING_SLOT_CAPACITY" in s for s in statements)  # the ledger was asked
        assert writes(statements) == [], statements  # no resource, index, lock or place row
        assert not any("FOR UPDATE" in s for s in statements), statements  # and no lock taken
    assert places(slot) == 1


def test_the_refusal_is_the_ledgers_answer_and_is_audited(api: httpx.Client) -> None:
    slot = full_slot(api)
    refused = api.post("/Appointment", json=appointment(slot, new_patient(api)))
    assert refused.status_code == 409 and refusal(refused) == "slot-full", refused.text
    issue = refused.json()["issue"][0]
    assert issue["code"] == "conflict" and issue["diagnostics"] == f"Slot/{slot} has no free place"
    with session_scope() as session:
        audited = session.scalars(
            select(AuditRecord).where(
                AuditRecord.resource_type == "Appointment",
                AuditRecord.outcome_text == f"409: Slot/{slot} has no free place",
            )
        ).all()
    assert [(a.interaction, a.outcome) for a in audited] == [("create", "4")]
    assert places(slot) == 1


def test_referral_only_and_past_slots_are_refused_before_the_write_too(api: httpx.Client) -> None:
    shared = new_slot(api, capacity=2, reserved=1)
    assert api.post("/Appointment", json=appointment(shared, new_patient(api))).status_code == 201
    past = new_slot(api, capacity=1, hours_ahead=-2)
    for slot, reason in ((shared, "slot-referral-only"), (past, "slot-past")):
        with statements_run() as (store, statements):
            with pytest.raises(BookingError) as refused:
                store.create("Appointment", appointment(slot, new_patient(api)))
            assert refused.value.reason == reason
            assert any("BOOKING_SLOT_CAPACITY" in s for s in statements), statements
            assert writes(statements) == [], statements


def test_a_retry_on_the_slot_its_first_request_filled_gets_the_first_result(
    api: httpx.Client,
) -> None:
    slot, patient = new_slot(api, capacity=1), new_patient(api)
    body = appointment(slot, patient, key=f"filled-{slot}")
    first = api.post("/Appointment", json=body)
    assert first.status_code == 201, first.text
    again = api.post("/Appointment", json=body)  # no If-None-Exist: the ledger names the first
    assert again.status_code == 409 and first.json()["id"] in again.text, again.text
    via_book = api.post(
        "/Appointment/$book",
        json={"resourceType": "Parameters",
              "parameter": [{"name": "appointment-resource", "resource": body}]},
    )  # fmt: skip
    assert via_book.status_code == 200 and via_book.json()["id"] == first.json()["id"]
    assert places(slot) == 1


def test_a_slot_full_after_the_check_is_still_refused_by_the_ledger(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    slot, patient = full_slot(api), new_patient(api)
    monkeypatch.setattr(ledger, "refusal_before_write", lambda *args, **kwargs: None)
    with statements_run() as (store, statements):
        with pytest.raises(BookingError) as refused:
            store.create("Appointment", appointment(slot, patient))
        assert refused.value.reason == "slot-full"
        # written (on PostgreSQL in one statement with its version and index rows)...
        assert any("INSERT INTO FHIR_RESOURCE " in s for s in statements)
    assert places(slot) == 1  # ... and rolled back: the conditional update refused the place
