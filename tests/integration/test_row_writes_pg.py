"""The one-statement writes of PostgreSQL (hub/fhir/row_writes.py) leave exactly the rows the
statement-by-statement path leaves: the same resource row, version rows and index rows of every
kind, through a create, two updates that change what is indexed, and a delete; and a row this
session loaded before an update is seen at its new version by the next read."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from hub.auth.actor import SYSTEM_ACTOR
from hub.db import session_scope
from hub.fhir.models import INDEX_TABLES, ResourceRow, ResourceVersionRow
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import get_settings

PATIENT = f"rw-{uuid.uuid4().hex[:12]}"


def _observation(resource_id: str, *, value: float, code: str, effective: str) -> dict[str, Any]:
    """Every kind of index row: tokens, strings, dates, references and a quantity."""
    return {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "identifier": [{"system": "urn:test:obs", "value": "row-writes-story"}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}], "text": "glucose"},
        "subject": {"reference": f"Patient/{PATIENT}"},
        "effectiveDateTime": effective,
        "valueQuantity": {"value": value, "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                          "code": "mmol/L"},
    }  # fmt: skip


def _rows(session: Any, rid: int) -> dict[str, Any]:
    """Everything stored for one resource, without surrogate ids and timestamps of the run."""
    found: dict[str, Any] = {}
    for table in INDEX_TABLES:
        columns = [c for c in table.__table__.columns if c.name not in ("id", "rid")]
        found[table.__tablename__] = sorted(
            tuple(str(v) for v in row) for row in session.execute(sa.select(*columns).where(
                table.rid == rid))
        )  # fmt: skip
    versions = session.execute(
        sa.select(ResourceVersionRow.version_id, ResourceVersionRow.method,
                  ResourceVersionRow.content.is_(None))
        .where(ResourceVersionRow.rid == rid).order_by(ResourceVersionRow.version_id)
    ).all()  # fmt: skip
    found["versions"] = [tuple(v) for v in versions]
    row = session.get(ResourceRow, rid)
    found["current"] = (row.version_id, row.deleted, row.content is None)
    return found


def _write_story(fused: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr(FhirStore, "_fused", lambda self: fused)
    resource_id = f"rw-{uuid.uuid4().hex[:12]}"
    with session_scope() as session:
        store = FhirStore(session, SYSTEM_ACTOR, get_cipher(), get_settings().fhir_base_url)
        created = store.create(
            "Observation", _observation(resource_id, value=5, code="2345-7",
                                        effective="2026-11-02T08:00:00+08:00"),
            resource_id=resource_id,
        )  # fmt: skip
        store.update("Observation", resource_id, _observation(
            resource_id, value=6.2, code="2339-0", effective="2026-11-03"))  # fmt: skip
        store.update("Observation", resource_id, _observation(
            resource_id, value=7.5, code="2339-0", effective="2026-11"))  # fmt: skip
        before_delete = _rows(session, created.rid)
        store.delete("Observation", resource_id)
        after_delete = _rows(session, created.rid)
    return {"before_delete": before_delete, "after_delete": after_delete}


@pytest.fixture
def on_postgres(hub_on_postgres: str) -> Iterator[None]:
    """The run's PostgreSQL database, with the patient the observations are about."""
    with session_scope() as session:
        store = FhirStore(session, SYSTEM_ACTOR, get_cipher(), get_settings().fhir_base_url)
        if store.current_row("Patient", PATIENT) is None:
            store.create("Patient", {"resourceType": "Patient", "gender": "female",
                                    "name": [{"text": "行写测试"}], "birthDate": "1970-01-01"},
                         resource_id=PATIENT)  # fmt: skip
    yield


def test_the_one_statement_write_leaves_the_rows_of_the_statement_by_statement_write(
    on_postgres: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    fused = _write_story(True, monkeypatch)
    plain = _write_story(False, monkeypatch)
    assert fused == plain
    indexed = fused["before_delete"]
    # The story wrote index rows of the kinds an Observation has (no string parameter), so the
    # comparison compared something; the Patient of the fixture was written with strings.
    kinds = ("search_token", "search_date", "search_reference", "search_quantity")
    assert all(indexed[kind] for kind in kinds), indexed
    assert indexed["versions"] == [(1, "POST", False), (2, "PUT", False), (3, "PUT", False)]
    assert fused["after_delete"]["current"] == (4, True, True)
    assert not any(fused["after_delete"][table.__tablename__] for table in INDEX_TABLES)


def test_a_row_loaded_before_the_update_is_read_at_its_new_version(on_postgres: None) -> None:
    resource_id = f"rw-{uuid.uuid4().hex[:12]}"
    with session_scope() as session:
        store = FhirStore(session, SYSTEM_ACTOR, get_cipher(), get_settings().fhir_base_url)
        store.create(
            "Observation",
            _observation(resource_id, value=5, code="2345-7", effective="2026-11-02"),
            resource_id=resource_id,
        )
        loaded = store.current_row("Observation", resource_id)
        assert loaded is not None and loaded.version_id == 1
        store.update("Observation", resource_id, _observation(
            resource_id, value=9, code="2345-7", effective="2026-11-02"))  # fmt: skip
        # The next write in this transaction (the next message of an HL7 batch) reads version 2.
        again = store.current_row("Observation", resource_id, for_update=True)
        assert again is not None and again.version_id == 2
        store.update("Observation", resource_id, _observation(
            resource_id, value=10, code="2345-7", effective="2026-11-02"))  # fmt: skip
        assert store.read("Observation", resource_id).version_id == 3
        found = store.search("Observation", [("_id", resource_id)])
        assert [m.as_dict()["valueQuantity"]["value"] for m in found.matches] == [10]
