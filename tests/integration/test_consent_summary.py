"""The consent summary follows every Consent write, in the Consent's own transaction: REST-style
store writes, transaction Bundles, bulk loads, withdrawal; migration 0019 fills it from the
Consents already stored; two writes for one patient at once (PostgreSQL, real threads) leave it
equal to what the stored Consents say; a Consent's period is compared with the moment of the
search, so one that ended or has not begun reaches no search without any write."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.models import ConsentSummaryRow
from consent.rules import consent_rules, patient_of
from consent.summary import ANY_ACTOR, consented_patients, summary_rows
from hub.auth.actor import SYSTEM_ACTOR
from hub.db import session_scope
from hub.fhir.bulk import bulk_create
from hub.fhir.models import ResourceRow
from hub.fhir.store import FhirStore
from hub.migrate import alembic_config
from hub.security.fields import get_cipher
from hub.seeding import seed_region
from hub.settings import get_settings

H002 = "Organization/H002"


def consent(patient: str, provision: dict[str, Any], status: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "Consent", "status": status,
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient}"}, "provision": provision,
    }  # fmt: skip


def deny(actor: str = H002, period: dict[str, str] | None = None) -> dict[str, Any]:
    provision: dict[str, Any] = {"type": "deny", "actor": [
        {"reference": {"reference": actor}, "role": {"coding": [{"code": "IRCP"}]}}]}  # fmt: skip
    if period:
        provision["period"] = period
    return provision


def operator(session: Session) -> FhirStore:
    return FhirStore(session, SYSTEM_ACTOR, get_cipher(), get_settings().fhir_base_url)


def new_patient() -> str:
    """A Patient the patient index links to no other (its consents are its own)."""
    given = uuid.uuid4().hex[:8]
    with session_scope() as session:
        born = f"19{uuid.uuid4().int % 90 + 10}-0{uuid.uuid4().int % 9 + 1}-11"
        body = {"resourceType": "Patient", "name": [{"family": "摘要", "given": [given]}],
                "birthDate": born}  # fmt: skip
        return operator(session).create("Patient", body).resource_id


def summary_of(session: Session, consent_id: str) -> list[tuple[str, str]]:
    rows = session.execute(
        select(ConsentSummaryRow.actor, ConsentSummaryRow.patient_id).where(
            ConsentSummaryRow.consent_id == consent_id
        )
    )
    return sorted((actor, patient) for actor, patient in rows)


def expected_summary(session: Session, patient: str) -> list[tuple[str, str, str]]:
    """The summary rows the patient's stored Consents call for, computed afresh."""
    found = []
    for resource_id, content in session.execute(
        select(ResourceRow.resource_id, ResourceRow.content).where(
            ResourceRow.resource_type == "Consent", ResourceRow.deleted.is_(False)
        )
    ):
        body = orjson.loads(content)
        if patient_of(body) == patient:
            rows = summary_rows(resource_id, patient, consent_rules(body))
            found.extend((r["consent_id"], r["actor"], r["rules"]) for r in rows)
    return sorted(found)


def stored_summary(session: Session, patient: str) -> list[tuple[str, str, str]]:
    row = ConsentSummaryRow
    found = session.execute(
        select(row.consent_id, row.actor, row.rules).where(row.patient_id == patient)
    )
    return sorted((c, a, r) for c, a, r in found)


@pytest.fixture
def region(database: str) -> None:
    seed_region()


def test_the_summary_follows_create_update_and_withdrawal(region: None) -> None:
    patient = new_patient()
    with session_scope() as session:
        created = operator(session).create("Consent", consent(patient, deny()))
        assert summary_of(session, created.resource_id) == [(H002, patient)]
        anyone = consent(patient, {"type": "deny"}) | {"id": created.resource_id}
        operator(session).update("Consent", created.resource_id, anyone)
        assert summary_of(session, created.resource_id) == [(ANY_ACTOR, patient)]
        withdrawn = consent(patient, deny(), "inactive") | {"id": created.resource_id}
        operator(session).update("Consent", created.resource_id, withdrawn)
        assert summary_of(session, created.resource_id) == []
        assert stored_summary(session, patient) == expected_summary(session, patient) == []


def test_consents_in_a_transaction_bundle_and_a_bulk_load_are_summarised(region: None) -> None:
    patient, other = new_patient(), new_patient()
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": consent(patient, deny()), "request": {"method": "POST", "url": "Consent"}}
        ],
    }
    with session_scope() as session:
        answer = operator(session).write_batch(bundle)
        bundled = answer["entry"][0]["response"]["location"].split("/")[1]
        assert summary_of(session, bundled) == [(H002, patient)]
    with session_scope() as session:  # a bulk load runs the derived-data hooks without the rest
        base = get_settings().fhir_base_url
        bodies = [consent(other, deny())]
        (loaded,) = bulk_create(
            session, "Consent", bodies, actor=SYSTEM_ACTOR, cipher=get_cipher(), base_url=base
        )
    with session_scope() as session:
        assert summary_of(session, loaded) == [(H002, other)]
        assert stored_summary(session, other) == expected_summary(session, other)


def test_a_period_is_compared_with_the_moment_of_the_search(region: None) -> None:
    patient = new_patient()
    period = {"start": "2026-01-01", "end": "2026-06-30"}
    with session_scope() as session:
        operator(session).create("Consent", consent(patient, deny(period=period)))

        def reached(moment: datetime) -> bool:
            found = consented_patients(session, [H002], moment, 100_000)
            return patient in found.consents

        assert not reached(datetime(2025, 12, 31, 15, 59, tzinfo=UTC))  # before it begins
        assert reached(datetime(2025, 12, 31, 16, 0, tzinfo=UTC))  # 2026-01-01 00:00 +08:00
        assert reached(datetime(2026, 6, 30, 15, 59, tzinfo=UTC))  # its last day, 23:59 +08:00
        assert not reached(datetime(2026, 6, 30, 16, 0, tzinfo=UTC))  # 2026-07-01 +08:00
        for_h003 = consented_patients(session, ["Organization/H003"], datetime.now(UTC), 10**6)
        assert patient not in for_h003.consents  # the deny names H002 only


@pytest.fixture
def empty_database(database: str, tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'upgrade.db'}")
    yield engine
    engine.dispose()


def migrate(engine: sa.Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def test_migration_0020_fills_the_summary_from_stored_consents(empty_database: sa.Engine) -> None:
    migrate(empty_database, "0019")
    now = datetime.now(UTC)
    stored = [("c-active", consent("p1", deny()) | {"id": "c-active"}),
              ("c-inactive", consent("p1", deny(), "inactive") | {"id": "c-inactive"}),
              ("c-anyone", consent("p2", {"type": "deny"}) | {"id": "c-anyone"})]  # fmt: skip
    columns = ("resource_type", "resource_id", "version_id", "last_updated", "deleted", "content")
    resources = sa.table("fhir_resource", *(sa.column(c) for c in columns))
    rows = [("Consent", i, 1, now, False, orjson.dumps(body).decode()) for i, body in stored]
    with empty_database.begin() as conn:
        conn.execute(resources.insert(), [dict(zip(columns, row, strict=True)) for row in rows])
    migrate(empty_database, "head")
    with empty_database.connect() as conn:
        rows = conn.execute(sa.text("SELECT consent_id, actor, patient_id FROM consent_summary"))
        assert sorted(tuple(r) for r in rows) == [
            ("c-active", H002, "p1"), ("c-anyone", ANY_ACTOR, "p2")]  # fmt: skip


def test_two_consent_writes_for_one_patient_at_once_leave_no_stale_summary(
    hub_on_postgres: str,
) -> None:
    seed_region()
    patient = new_patient()
    with session_scope() as session:
        shared = operator(session).create("Consent", consent(patient, deny())).resource_id
    writers = 6
    barrier = threading.Barrier(writers)

    def write(n: int) -> None:
        with session_scope() as session:
            store = operator(session)
            barrier.wait()
            if n % 2:  # three write a Consent of their own for the patient
                store.create("Consent", consent(patient, deny(f"Organization/H00{n}")))
            else:  # three change the same one: withdrawn, or for another facility
                provision = deny(f"Organization/H00{n + 3}")
                status = "inactive" if n == 0 else "active"
                body = consent(patient, provision, status) | {"id": shared}
                store.update("Consent", shared, body)

    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(write, range(writers)))
    with session_scope() as session:
        stored = stored_summary(session, patient)
        assert stored == expected_summary(session, patient)
        assert len({c for c, _, _ in stored} - {shared}) == 3
