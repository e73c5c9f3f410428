"""On PostgreSQL a transaction's audit records travel in the same message as its COMMIT: what it
changed and its audit records are committed together or not at all."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from hub.audit.models import AuditRecord
from hub.audit.service import AuditEntry, record_access
from hub.auth.actor import SYSTEM_ACTOR
from hub.db import session_scope
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import get_settings


def _observation() -> dict[str, object]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "audit-commit"}}


def _stored(resource_id: str) -> bool:
    with session_scope() as session:
        store = FhirStore(session, SYSTEM_ACTOR, get_cipher(), get_settings().fhir_base_url)
        return store.current_row("Observation", resource_id) is not None


def _audited(resource_id: str) -> int:
    with session_scope() as session:
        return session.execute(
            sa.select(sa.func.count())
            .select_from(AuditRecord)
            .where(AuditRecord.resources.contains(resource_id))
        ).scalar_one()


def test_the_change_and_its_audit_record_commit_together(hub_on_postgres: str) -> None:
    with session_scope() as session:
        store = FhirStore(session, SYSTEM_ACTOR, get_cipher(), get_settings().fhir_base_url)
        resource_id = store.create("Observation", _observation()).resource_id
    assert _stored(resource_id) and _audited(resource_id) == 1


def test_an_audit_record_that_cannot_be_written_takes_the_change_with_it(
    hub_on_postgres: str,
) -> None:
    resource_id = str(uuid.uuid4())
    with pytest.raises(sa.exc.DBAPIError), session_scope() as session:
        store = FhirStore(session, SYSTEM_ACTOR, get_cipher(), get_settings().fhir_base_url)
        store.create("Observation", _observation(), resource_id=resource_id)
        # Over-long values fail, never truncate: this record cannot be appended.
        record_access(session, AuditEntry(SYSTEM_ACTOR, "x" * 100, "Observation"))
    assert not _stored(resource_id)
    assert _audited(resource_id) == 0
