"""A chained search whose consent filter takes the broad form (1,000 matches or more: forced here)
answers as the narrow form does: the denied facility's total reveals nothing, another facility's
is true. The broad form nested inside itself once overflowed SQLite's parser (a 500)."""

from __future__ import annotations

import pytest

from consent import search_filter
from hub.auth.actor import Actor
from hub.auth.purpose import DEFAULT_PURPOSE
from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.db import session_scope
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from tests.integration.test_consent_records import actor, consent


def _facility(code: str) -> Actor:
    role = Role.facility_system
    return Actor.build(
        client_id=f"chain-{code}", facility=code, role=role, scope=DEFAULT_SCOPES[role],
        purpose_of_use=DEFAULT_PURPOSE[role],
    )  # fmt: skip


def _create(facility: str, resource: dict[str, object]) -> str:
    with session_scope() as session:
        store = FhirStore(session, _facility(facility), get_cipher())
        return store.create(str(resource["resourceType"]), resource).resource_id


def _total(facility: str, observation: str, bound: str) -> int | None:
    query = [("_id", observation), ("subject:Patient.birthdate", bound), ("_total", "accurate")]
    with session_scope() as session:
        return (
            FhirStore(session, _facility(facility), get_cipher()).search("Observation", query).total
        )


def test_a_chained_search_in_the_broad_form(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_filter, "BROAD_SEARCH", 0)  # every search is broad
    victim = _create("H001", {"resourceType": "Patient", "name": [{"family": "链"}],
                              "gender": "female", "birthDate": "1968-07-21"})  # fmt: skip
    _create("H001", consent(victim, {"type": "deny", "actor": [actor("Organization/H002")]}))
    probe = {"resourceType": "Observation", "status": "final", "code": {"text": "probe"},
             "subject": {"reference": f"Patient/{victim}"}}  # fmt: skip
    own, theirs = _create("H002", probe), _create("H003", probe)
    assert [_total("H002", own, b) for b in ("le1968-07-21", "gt1968-07-21")] == [0, 0]
    assert [_total("H003", theirs, b) for b in ("le1968-07-21", "gt1968-07-21")] == [1, 0]
