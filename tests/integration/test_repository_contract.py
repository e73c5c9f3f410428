"""The repository contract (``hub.fhir.repository.FhirRepository``), run the same way over the
database store (SQLite or PostgreSQL, the run's test database) and the in-memory repository the
services' unit tests use (``hub.fhir.memory``): both must answer alike.

Every test writes resources with fresh ids, so the database store's runs never see each other;
its transaction is rolled back at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.auth.actor import SYSTEM_ACTOR
from hub.db import new_session
from hub.errors import Conflict, Gone, InvalidRequest, NotFound, PreconditionFailed
from hub.fhir.memory import MemoryRepository
from hub.fhir.repository import FhirRepository
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import get_settings


@pytest.fixture(params=["memory", "store"])
def repo(request: pytest.FixtureRequest, database: str) -> Iterator[FhirRepository]:
    base_url = get_settings().fhir_base_url
    if request.param == "memory":
        yield MemoryRepository(get_cipher(), base_url)
        return
    session = new_session()
    try:
        yield FhirStore(session, SYSTEM_ACTOR, get_cipher(), base_url)
    finally:
        session.rollback()
        session.close()


def _tag() -> str:
    return uuid.uuid4().hex[:12]


def _organization(repo: FhirRepository, tag: str) -> str:
    body = {"resourceType": "Organization", "name": f"Clinic {tag}", "active": True}
    return repo.create("Organization", body).resource_id


def _task(tag: str, owner: str, status: str = "requested", **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "status": status,
        "intent": "order",
        "identifier": [{"system": "urn:contract-test", "value": tag}],
        "owner": {"reference": f"Organization/{owner}"},
        **more,
    }


def _ids(repo: FhirRepository, resource_type: str, query: list[tuple[str, str]]) -> list[str]:
    return [m.resource_id for m in repo.search(resource_type, query).matches]


def test_create_then_read_gives_version_one_with_meta(repo: FhirRepository) -> None:
    org = _organization(repo, _tag())
    stored = repo.read("Organization", org)
    assert stored.version_id == 1
    assert stored.etag == 'W/"1"'
    assert stored.as_dict()["meta"]["versionId"] == "1"
    assert stored.as_dict()["name"].startswith("Clinic ")


def test_create_with_a_taken_id_is_a_conflict(repo: FhirRepository) -> None:
    org = _organization(repo, _tag())
    with pytest.raises(Conflict):
        repo.create("Organization", {"resourceType": "Organization"}, resource_id=org)


def test_read_of_an_unknown_id_is_not_found(repo: FhirRepository) -> None:
    with pytest.raises(NotFound):
        repo.read("Organization", f"nope-{_tag()}")


def test_update_bumps_the_version_and_if_match_guards_it(repo: FhirRepository) -> None:
    org = _organization(repo, _tag())
    body = repo.read("Organization", org).as_dict()
    stored, created = repo.update("Organization", org, dict(body, name="Renamed"), if_match=1)
    assert (stored.version_id, created) == (2, False)
    with pytest.raises(PreconditionFailed):
        repo.update("Organization", org, dict(body, name="Stale"), if_match=1)
    assert repo.read("Organization", org).as_dict()["name"] == "Renamed"
    assert repo.vread("Organization", org, 1).as_dict()["name"].startswith("Clinic ")


def test_update_of_an_unknown_id_creates_it_unless_if_match(repo: FhirRepository) -> None:
    new_id = f"org-{_tag()}"
    body = {"resourceType": "Organization", "id": new_id, "name": "New"}
    with pytest.raises(PreconditionFailed):
        repo.update("Organization", new_id, body, if_match=1)
    stored, created = repo.update("Organization", new_id, body)
    assert (stored.version_id, created) == (1, True)


def test_delete_then_read_is_gone_and_history_keeps_every_version(repo: FhirRepository) -> None:
    org = _organization(repo, _tag())
    body = repo.read("Organization", org).as_dict()
    repo.update("Organization", org, dict(body, name="Second"))
    assert repo.delete("Organization", org) == 3
    assert repo.delete("Organization", org) is None  # nothing left to delete
    with pytest.raises(Gone):
        repo.read("Organization", org)
    entries, total = repo.history("Organization", org)
    assert total == 3
    assert [(e.version_id, e.method) for e in entries] == [(3, "DELETE"), (2, "PUT"), (1, "POST")]
    assert entries[0].resource is None


def test_a_dangling_local_reference_is_refused(repo: FhirRepository) -> None:
    with pytest.raises(InvalidRequest) as refused:
        repo.create("Task", _task(_tag(), f"missing-{_tag()}"))
    assert refused.value.expression == ["Task.owner"]


def test_delete_of_a_referenced_resource_is_a_conflict_naming_the_referrer(
    repo: FhirRepository,
) -> None:
    org = _organization(repo, _tag())
    task = repo.create("Task", _task(_tag(), org)).resource_id
    with pytest.raises(Conflict) as refused:
        repo.delete("Organization", org)
    assert f"Task/{task}" in refused.value.diagnostics
    repo.delete("Task", task)  # once nothing references it, the delete goes through
    assert repo.delete("Organization", org) == 2


def test_search_by_id_reference_token_and_last_updated(repo: FhirRepository) -> None:
    tag = _tag()
    org, other = _organization(repo, tag), _organization(repo, tag)
    first = repo.create("Task", _task(tag, org)).resource_id
    second = repo.create("Task", _task(tag, org, status="accepted")).resource_id
    repo.create("Task", _task(tag, other))
    assert _ids(repo, "Task", [("owner", f"Organization/{org}")]) == [first, second]
    assert _ids(repo, "Task", [("owner", f"Organization/{org}"), ("status", "accepted")]) == [
        second
    ]
    assert len(_ids(repo, "Task", [("identifier", f"urn:contract-test|{tag}")])) == 3
    assert _ids(repo, "Task", [("_id", first)]) == [first]
    # A date is read in the region's time (UTC+8): tomorrow in UTC can already have begun there.
    later = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    assert _ids(repo, "Task", [("_id", first), ("_lastUpdated", f"lt{later}")]) == [first]
    assert _ids(repo, "Task", [("_id", first), ("_lastUpdated", f"gt{later}")]) == []


def test_search_pages_and_counts_the_total(repo: FhirRepository) -> None:
    tag = _tag()
    org = _organization(repo, tag)
    made = [repo.create("Task", _task(tag, org)).resource_id for _ in range(3)]
    query = [("owner", f"Organization/{org}"), ("_count", "2")]
    page = repo.search("Task", query)
    assert ([m.resource_id for m in page.matches], page.total, page.more) == (made[:2], 3, True)
    rest = repo.search("Task", [*query, ("_offset", "2")])
    assert [m.resource_id for m in rest.matches] == made[2:]
    assert not rest.more


def test_deleted_resources_leave_the_search(repo: FhirRepository) -> None:
    tag = _tag()
    org = _organization(repo, tag)
    task = repo.create("Task", _task(tag, org)).resource_id
    repo.delete("Task", task)
    assert _ids(repo, "Task", [("owner", f"Organization/{org}")]) == []


def test_system_reads_see_current_resources_by_reference_and_token(repo: FhirRepository) -> None:
    tag = _tag()
    org = _organization(repo, tag)
    task = repo.create("Task", _task(tag, org, status="accepted")).resource_id
    system = repo.system
    assert system.current("Task", task) is not None
    assert system.current("Task", f"nope-{tag}") is None
    assert [t["id"] for t in system.referencing("Task", "owner", f"Organization/{org}")] == [task]
    pairs = system.referencing_any("Task", "owner", "Organization", [org])
    assert [(target, t["id"]) for target, t in pairs] == [(org, task)]
    tokened = system.with_tokens("Task", {"status": "accepted", "identifier": tag})
    assert [t["id"] for t in tokened] == [task]
    updated = repo.read("Task", task).as_dict()
    repo.update("Task", task, dict(updated, status="in-progress"))
    previous = system.previous_version(repo.read("Task", task).as_dict())
    assert previous is not None and previous["status"] == "accepted"
    assert task in system.ids("Task")


def test_a_transaction_is_all_or_none(repo: FhirRepository) -> None:
    tag = _tag()
    org = _organization(repo, tag)
    good = {"resource": _task(tag, org), "request": {"method": "POST", "url": "Task"}}
    bad = {
        "resource": _task(tag, f"missing-{tag}"),
        "request": {"method": "POST", "url": "Task"},
    }
    with pytest.raises(InvalidRequest):
        repo.write_batch({"resourceType": "Bundle", "type": "transaction", "entry": [good, bad]})
    assert _ids(repo, "Task", [("owner", f"Organization/{org}")]) == []
    response = repo.write_batch({"resourceType": "Bundle", "type": "transaction", "entry": [good]})
    assert response["entry"][0]["response"]["status"].startswith("201")
    assert len(_ids(repo, "Task", [("owner", f"Organization/{org}")])) == 1
