"""Online key rotation: values sealed under key A are re-sealed under key B (SM4-GCM) in every
table, stay readable and searchable, and a second run has nothing to do; then the CLI rotates
them back, so the rest of the suite (and the live hub, which knows only A) is unaffected."""

from __future__ import annotations

import json
import os
import random
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from adapters.hl7v2.models import InboxRow
from adapters.outbound.models import OutboxRow, OutboxStatus
from hub.auth.actor import SYSTEM_ACTOR
from hub.db import get_engine, session_scope
from hub.fhir.router import do_search
from hub.fhir.store import FhirStore
from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.mpi import store as mpi_store
from hub.mpi.matching.features import features_from_row
from hub.mpi.matching.identifiers import make_resident_id
from hub.mpi.models import IdentifierRow, SourceRow
from hub.mpi.registration.online import register_source
from hub.security.fields import FieldCipher, get_cipher
from hub.security.rotation import (
    SEALED_COLUMNS,
    BlindIndexState,
    blind_index_state,
    rotate_keys,
    sealed_value_counts,
)
from hub.settings import Settings, get_settings
from tests.integration.hub_cli import run_hub

SM4_KEY_ID = "sm4-2031"


def _use_keys(keys: dict[str, Any], active: str) -> FieldCipher:
    os.environ["HUB_FIELD_KEYS"] = json.dumps(keys)
    os.environ["HUB_FIELD_KEY_ID"] = active
    get_settings.cache_clear()
    get_cipher.cache_clear()
    return get_cipher()


@pytest.fixture
def key_a(database: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The suite's key (A); the environment and caches are restored afterwards."""
    saved = os.environ["HUB_FIELD_KEYS"], os.environ["HUB_FIELD_KEY_ID"]
    yield saved[1], json.loads(saved[0])
    os.environ["HUB_FIELD_KEYS"], os.environ["HUB_FIELD_KEY_ID"] = saved
    get_settings.cache_clear()
    get_cipher.cache_clear()


def _patient(resident_id: str, phone: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": RESIDENT_ID_SYSTEM, "value": resident_id}],
        "name": [{"family": "张", "given": ["伟"]}],
        "telecom": [{"system": "phone", "value": phone}],
        "gender": "male",
        "birthDate": "1970-03-04",
    }


def _write_data(cipher: FieldCipher) -> tuple[str, str, str]:
    """A Patient in two versions, an MPI source, an inbox row and an outbox row, under A."""
    rng, tag = random.Random(), uuid.uuid4().hex[:10]
    resident = make_resident_id("420502", date(1970, 3, 4), rng.randint(1, 999), "male")
    phone = f"137{rng.randrange(10**8):08d}"
    now = datetime.now(UTC)
    with session_scope() as session:
        store = FhirStore(session, SYSTEM_ACTOR, cipher)
        created = store.create("Patient", _patient(resident, phone))
        patient_id = created.resource_id
        store.update(
            "Patient", patient_id, _patient(resident, phone) | {"id": patient_id, "active": True}
        )
        features = features_from_row({"family_name": "张", "given_name": "伟",
                                      "birth_date": "1970-03-04", "id_number": resident,
                                      "gender": "男", "phone": phone})  # fmt: skip
        register_source(session, cipher, facility="H001", source_id=f"rot-{tag}",
                        patient_id=patient_id, features=features, actor="test")  # fmt: skip
        session.add(
            InboxRow(
                received_at=now,
                facility_code="H001",
                control_id=tag,
                status="rejected",
                raw=cipher.seal_bytes(f"MSH|{resident}".encode()),
            )
        )
        session.add(OutboxRow(created_at=now, destination="ZZ-NONE", channel="mllp",
                              event="ADT^A31", idempotency_key=f"rot-{tag}",
                              status=OutboxStatus.DEAD.value,
                              payload=cipher.seal_bytes(f"PID|{resident}".encode())))  # fmt: skip
    return patient_id, resident, f"rot-{tag}"


def _plaintext_is_back(cipher: FieldCipher, patient_id: str, resident: str, source: str) -> None:
    with session_scope() as session:
        store = FhirStore(session, SYSTEM_ACTOR, cipher)
        for stored in (store.read("Patient", patient_id), store.vread("Patient", patient_id, 1)):
            body = stored.as_dict()
            assert body["identifier"][0]["value"] == resident
        bundle = orjson.loads(
            do_search(store, "Patient", [("identifier", f"{RESIDENT_ID_SYSTEM}|{resident}")])
        )
        assert [e["resource"]["id"] for e in bundle["entry"]] == [patient_id]
        row = session.execute(
            sa.select(SourceRow).where(SourceRow.source_id == source)
        ).scalar_one()
        assert mpi_store.open_features(cipher, row.features).resident_id == resident
        values = session.execute(
            sa.select(IdentifierRow.value).where(IdentifierRow.source_row == row.id)
        ).scalars()
        assert resident in {cipher.decrypt(v) for v in values}
        raw = session.execute(sa.select(InboxRow.raw).order_by(InboxRow.id.desc())).scalars()
        assert f"MSH|{resident}".encode() in {cipher.open_bytes(r) for r in raw}


def _no_value_under(key_id: str) -> None:
    engine = get_engine()
    counts = sealed_value_counts(engine)
    assert {spec.name for spec in SEALED_COLUMNS} == set(counts)
    assert all(key_id not in by_key for by_key in counts.values()), counts
    with engine.connect() as conn:  # and, independently of the scanner, in the raw text
        for spec in SEALED_COLUMNS:
            column: sa.ColumnClause[Any] = sa.column(spec.column)
            if spec.kind == "bytes":
                condition: Any = sa.func.substr(column, 1, len(key_id) + 1) == f"{key_id}:".encode()
            else:
                condition = column.like(f"%enc:{key_id}:%")
            query = sa.select(sa.func.count()).select_from(sa.table(spec.table)).where(condition)
            assert conn.execute(query).scalar_one() == 0, spec.name


def test_rotation_to_sm4_and_back(key_a: tuple[str, dict[str, Any]]) -> None:
    a_id, a_keys = key_a
    cipher_a = _use_keys(a_keys, a_id)
    patient_id, resident, source = _write_data(cipher_a)
    engine = get_engine()
    assert sealed_value_counts(engine)["fhir_resource.content"][a_id] >= 2

    both = a_keys | {SM4_KEY_ID: {"key": secrets.token_urlsafe(32), "algorithm": "sm4-gcm"}}
    cipher_b = _use_keys(both, SM4_KEY_ID)
    try:
        seen: list[int] = []
        results = rotate_keys(engine, cipher_b, batch_size=7, progress=seen.append)
        by_column = {r.column: r for r in results}
        assert all(by_column[s.name].rotated >= 1 for s in SEALED_COLUMNS), results
        assert sum(seen) >= sum(r.rotated for r in results)
        assert not any(r.unreadable for r in results)
        _no_value_under(a_id)
        _plaintext_is_back(cipher_b, patient_id, resident, source)
        assert all(r.rotated == 0 for r in rotate_keys(engine, cipher_b))  # idempotent
        assert blind_index_state(engine, cipher_b) is BlindIndexState.CONSISTENT
        status = run_hub("keys", "status", env=os.environ)
        assert status.returncode == 0, status.stderr
        assert SM4_KEY_ID in status.stdout and "0 values under other keys" in status.stderr
    finally:
        # Back to A through the CLI (old key B still configured to read), for the whole suite.
        env = dict(os.environ, HUB_FIELD_KEYS=json.dumps(both), HUB_FIELD_KEY_ID=a_id)
        back = run_hub("keys", "rotate", "--batch-size", "50", env=env)
    assert back.returncode == 0, back.stderr
    assert f"to key '{a_id}'" in back.stderr
    again = run_hub("keys", "rotate", env=env)
    assert again.returncode == 0 and "rotated 0 rows" in again.stderr, again.stderr
    cipher_a = _use_keys(a_keys, a_id)  # B removed from the configuration: all still readable
    _no_value_under(SM4_KEY_ID)
    _plaintext_is_back(cipher_a, patient_id, resident, source)


def test_a_changed_blind_index_is_refused(key_a: tuple[str, dict[str, Any]]) -> None:
    a_id, a_keys = key_a
    _write_data(_use_keys(a_keys, a_id))
    changed = Settings(blind_index_algorithm="hmac-sm3")  # same keys, other blind algorithm
    assert blind_index_state(get_engine(), FieldCipher.from_settings(changed)) == "mismatch"
    assert blind_index_state(get_engine(), get_cipher()) is BlindIndexState.CONSISTENT
    refused = run_hub("keys", "rotate", env=dict(os.environ, HUB_BLIND_INDEX_ALGORITHM="hmac-sm3"))
    assert refused.returncode == 2
    assert "refused" in refused.stderr and "HUB_BLIND_INDEX_ALGORITHM" in refused.stderr


def test_rows_written_meanwhile_are_not_clobbered(
    key_a: tuple[str, dict[str, Any]], hub_on_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub updates a resource between the rotation's read and its write: the conditional
    update leaves the hub's version alone, and the next pass has nothing left to do. On
    PostgreSQL whatever the run's database: SQLite serialises writers (a batch holds the write
    lock, BEGIN IMMEDIATE), so no write can come in between there."""
    from hub.security import rotation

    a_id, a_keys = key_a
    patient_id, resident, _ = _write_data(_use_keys(a_keys, a_id))
    both = a_keys | {SM4_KEY_ID: {"key": secrets.token_urlsafe(32), "algorithm": "sm4-gcm"}}
    cipher_b = _use_keys(both, SM4_KEY_ID)
    original = rotation._resealed
    interfered: list[int] = []

    def hub_writes_meanwhile(cipher: FieldCipher, kind: Any, value: Any) -> Any:
        if not interfered and kind == "json" and patient_id in value:
            with session_scope() as session:  # another connection: the hub serving a PUT
                store = FhirStore(session, SYSTEM_ACTOR, cipher_b)
                body = _patient(resident, "13900000000") | {"id": patient_id, "active": False}
                interfered.append(store.update("Patient", patient_id, body)[0].version_id)
        return original(cipher, kind, value)

    monkeypatch.setattr(rotation, "_resealed", hub_writes_meanwhile)
    try:
        results = rotate_keys(get_engine(), cipher_b, batch_size=5)
        assert interfered and {r.column: r for r in results}["fhir_resource.content"].conflicts
        with session_scope() as session:
            current = FhirStore(session, SYSTEM_ACTOR, cipher_b).read("Patient", patient_id)
        assert current.version_id == interfered[0] and current.as_dict()["active"] is False
        assert current.as_dict()["telecom"][0]["value"] == "13900000000"
        _no_value_under(a_id)
    finally:
        monkeypatch.undo()
        env = dict(os.environ, HUB_FIELD_KEYS=json.dumps(both), HUB_FIELD_KEY_ID=a_id)
        back = run_hub("keys", "rotate", env=env)
    assert back.returncode == 0, back.stderr
