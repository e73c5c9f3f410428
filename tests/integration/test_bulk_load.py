"""The bulk loader (hub.fhir.bulk): bulk-loaded Patients are the same rows the store writes,
served, found and audited like store-created ones, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import uuid
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.audit.models import AuditPatient, AuditRecord
from hub.audit.verification import verify_chain
from hub.auth.actor import SYSTEM_ACTOR, Actor
from hub.auth.roles import Role
from hub.db import session_scope
from hub.errors import Conflict, Forbidden, InvalidRequest
from hub.fhir.bulk import bulk_create
from hub.fhir.models import INDEX_TABLES, ResourceRow, ResourceVersionRow
from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.mpi.matching.identifiers import make_resident_id
from hub.security.fields import get_cipher
from hub.seeding import seed_population_bulk
from hub.settings import get_settings

_HANZI = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"


@pytest.fixture(scope="module", autouse=True)
def _same_settings_as_the_server(live_hub: object) -> None:
    """The live hub fixed the public base URL: read the settings afresh."""
    get_settings.cache_clear()


def _patient(family: str = "欧阳", **extra: Any) -> dict[str, Any]:
    rng = random.Random(uuid.uuid4().int)
    birth = date(rng.randint(1940, 2010), rng.randint(1, 12), rng.randint(1, 28))
    given = "".join(rng.sample(_HANZI, 2))
    sex = rng.choice(("male", "female"))
    return {
        "resourceType": "Patient",
        "identifier": [
            {
                "system": RESIDENT_ID_SYSTEM,
                "value": make_resident_id("420502", birth, rng.randint(2, 999), sex),
            },
            {"system": "urn:test:mrn", "value": uuid.uuid4().hex},
        ],
        "name": [{"use": "official", "text": family + given, "family": family, "given": [given]}],
        "telecom": [{"system": "phone", "value": f"139{rng.randrange(10**8):08d}"}],
        "gender": sex,
        "birthDate": birth.isoformat(),
        "address": [{"city": "宜昌市", "district": "西陵区", "state": "湖北省", "country": "CN"}],
        **extra,
    }


def _bulk(resources: list[dict[str, Any]], actor: Actor = SYSTEM_ACTOR) -> list[str]:
    with session_scope() as session:
        return bulk_create(
            session,
            "Patient",
            resources,
            actor=actor,
            cipher=get_cipher(),
            base_url=get_settings().fhir_base_url,
        )


def _rows(session: Session, resource_id: str) -> dict[str, Any]:
    """Everything stored for a Patient, without the surrogate keys and the write instant."""
    row = session.execute(
        select(ResourceRow).where(
            ResourceRow.resource_type == "Patient", ResourceRow.resource_id == resource_id
        )
    ).scalar_one()
    version = session.get(ResourceVersionRow, (row.rid, 1))
    assert version is not None
    index: set[tuple[Any, ...]] = set()
    for table in INDEX_TABLES:
        columns = [c for c in table.__table__.columns if c.name not in ("id", "rid")]
        for values in session.execute(select(*columns).where(table.rid == row.rid)):
            index.add((table.__tablename__, *values))
    return {
        "row": (row.resource_type, row.version_id, row.deleted),
        "version": (version.resource_type, version.method, version.content == row.content),
        "sealed": RESIDENT_ID_SYSTEM in (row.content or "") and '"enc:' in (row.content or ""),
        "index": index,
    }


def _comparable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("id", "meta")}


def test_bulk_loaded_patient_is_stored_and_served_like_a_created_one(api: httpx.Client) -> None:
    body = _patient()
    store_id = f"store-{uuid.uuid4().hex[:12]}"
    created = api.put(f"/Patient/{store_id}", json=body | {"id": store_id})
    assert created.status_code == 201, created.text
    bulk_id = f"bulk-{uuid.uuid4().hex[:12]}"
    as_api = Actor.build(  # the facility `api` writes as: the same origin (meta.source) rows
        client_id="test-client", facility="H001", role=Role.facility_system, scope="system/*.cruds"
    )
    assert _bulk([body | {"id": bulk_id}], as_api) == [bulk_id]

    by_store, by_bulk = api.get(f"/Patient/{store_id}"), api.get(f"/Patient/{bulk_id}")
    assert by_bulk.status_code == 200, by_bulk.text
    assert by_bulk.headers["etag"] == by_store.headers["etag"] == 'W/"1"'
    served = by_bulk.json()
    assert served["id"] == bulk_id
    assert served["meta"]["versionId"] == "1"
    assert served["meta"]["lastUpdated"].endswith("Z")
    assert _comparable(served) == _comparable(by_store.json()) == _comparable(body)

    with session_scope() as session:
        assert _rows(session, bulk_id) == _rows(session, store_id)
        assert _rows(session, bulk_id)["sealed"]

    history = api.get(f"/Patient/{bulk_id}/_history").json()
    assert [e["request"]["method"] for e in history["entry"]] == ["POST"]


def test_bulk_loaded_patients_are_found_by_identifier_name_and_birthdate(
    api: httpx.Client,
) -> None:
    bodies = [_patient(family="司马") for _ in range(30)]
    ids = _bulk(bodies)
    assert len(ids) == 30 and len(set(ids)) == 30  # ids are assigned when absent
    for resource_id, body in list(zip(ids, bodies, strict=True))[:5]:
        resident_id = body["identifier"][0]["value"]
        found = api.get("/Patient", params={"identifier": f"{RESIDENT_ID_SYSTEM}|{resident_id}"})
        assert found.status_code == 200, found.text
        assert [e["resource"]["id"] for e in found.json().get("entry", [])] == [resource_id]
        name = body["name"][0]["text"]
        found = api.get(
            "/Patient", params={"name": name, "birthdate": body["birthDate"], "_count": "100"}
        )
        assert resource_id in [e["resource"]["id"] for e in found.json().get("entry", [])]
        found = api.get("/Patient", params={"phone": body["telecom"][0]["value"]})
        assert resource_id in [e["resource"]["id"] for e in found.json().get("entry", [])]


def test_one_audit_entry_per_bulk_load_naming_every_patient() -> None:
    with session_scope() as session:
        before = session.execute(select(func.max(AuditRecord.seq))).scalar_one() or 0
    ids = _bulk([_patient() for _ in range(12)])
    with session_scope() as session:
        records = (
            session.execute(select(AuditRecord).where(AuditRecord.seq > before)).scalars().all()
        )
        mine = [
            r for r in records if r.outcome_text and "bulk load of 12 Patient" in r.outcome_text
        ]
        assert len(mine) == 1
        record = mine[0]
        assert (record.interaction, record.action, record.client_id) == (
            "create",
            "C",
            SYSTEM_ACTOR.client_id,
        )
        audited = session.execute(
            select(AuditPatient.patient_id).where(AuditPatient.seq == record.seq)
        ).scalars()
        assert sorted(audited) == sorted(ids)
        assert list(verify_chain(session)) == []


def test_existing_or_repeated_ids_are_refused_and_nothing_is_written() -> None:
    taken = f"bulk-{uuid.uuid4().hex[:12]}"
    _bulk([_patient(id=taken)])
    fresh = f"bulk-{uuid.uuid4().hex[:12]}"
    with pytest.raises(Conflict):
        _bulk([_patient(id=fresh), _patient(id=taken)])
    with pytest.raises(Conflict):
        _bulk([_patient(id=fresh), _patient(id=fresh)])
    with session_scope() as session:
        count = session.execute(
            select(func.count()).where(ResourceRow.resource_id == fresh)
        ).scalar_one()
    assert count == 0


def test_a_dangling_local_reference_refuses_the_batch_and_writes_nothing() -> None:
    """As on every write path (hub/fhir/references.py): a bulk load stores no reference to a
    resource of this server that does not exist; the batch's own resources count as existing."""
    first, second = (f"bulk-{uuid.uuid4().hex[:12]}" for _ in range(2))
    missing = f"Organization/missing-{uuid.uuid4().hex[:8]}"
    dangling = _patient(id=second, managingOrganization={"reference": missing})
    with pytest.raises(InvalidRequest) as refused:
        _bulk([_patient(id=first), dangling])
    assert refused.value.expression == ["Patient.managingOrganization"]
    with session_scope() as session:
        count = session.execute(
            select(func.count()).where(ResourceRow.resource_id.in_([first, second]))
        ).scalar_one()
    assert count == 0
    linked = _patient(
        id=second, link=[{"other": {"reference": f"Patient/{first}"}, "type": "seealso"}]
    )
    assert _bulk([_patient(id=first), linked]) == [first, second]


def test_the_callers_scopes_still_apply() -> None:
    reader = Actor.build(
        client_id="reader", facility="H001", role=Role.auditor, scope="system/Patient.rs"
    )
    with pytest.raises(Forbidden):
        _bulk([_patient()], actor=reader)


def test_seed_population_bulk_matches_the_store_path_and_is_idempotent(api: httpx.Client) -> None:
    seed = random.randrange(10_000, 1_000_000)
    assert seed_population_bulk(7, seed=seed, batch_size=3) == 7  # three batches
    assert seed_population_bulk(7, seed=seed, batch_size=3) == 0
    served = api.get(f"/Patient/res-{seed}-0000007")
    assert served.status_code == 200, served.text
    from hub.demo.population import generate_residents, resident_to_patient

    last = list(generate_residents(7, seed=seed))[-1]
    assert _comparable(served.json()) == _comparable(resident_to_patient(last))


def test_write_hooks_run_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    import hub.fhir.bulk as bulk

    seen: list[tuple[str, str, str]] = []

    def record(_store: object, kind: str, resource_type: str, body: dict[str, Any]) -> None:
        seen.append((kind, resource_type, body["id"]))

    monkeypatch.setattr(bulk, "run_write_hooks", record)
    _bulk([_patient()])
    assert seen == []  # the default: no patient-index registration
    with session_scope() as session:
        ids = bulk_create(
            session,
            "Patient",
            [_patient(), _patient()],
            actor=SYSTEM_ACTOR,
            cipher=get_cipher(),
            write_hooks=True,
        )
    assert seen == [("create", "Patient", i) for i in ids]
