"""The audit trail on a live hub: every access and refusal is recorded, served read-only as
AuditEvent, and ``hub audit verify`` detects records edited or deleted in the database.

The tamper tests edit the shared test database directly and restore it before they finish.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from hub.audit.models import AuditPatient, AuditRecord
from hub.auth.roles import Role
from hub.auth.service import get_issuer
from tests.integration.hub_cli import run_hub
from tests.live import LiveHub, TokenFactory

RESTFUL = "http://hl7.org/fhir/restful-interaction"
ClientFactory = Callable[..., httpx.Client]


@pytest.fixture(scope="module")
def auditor(live_hub: LiveHub, make_token: TokenFactory) -> Iterator[httpx.Client]:
    token = make_token(role=Role.auditor, client_id="audit-office")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=live_hub.fhir_url, headers=headers, timeout=30) as client:
        yield client


def audit_events(auditor: httpx.Client, **params: str) -> list[dict[str, Any]]:
    """Matching AuditEvents, oldest first."""
    response = auditor.get("/AuditEvent", params={"_count": "1000", **params})
    assert response.status_code == 200, response.text
    events = [e["resource"] for e in response.json().get("entry", [])]
    return sorted(events, key=lambda e: int(e["id"]))


def summary(event: dict[str, Any]) -> tuple[str, str, str]:
    subtype = event["subtype"][0]
    if subtype["code"] in ("token", "disclose"):  # the hub's own events, not REST interactions
        assert subtype["system"].endswith("/fhir/CodeSystem/audit-interaction")
    else:
        assert subtype["system"] == RESTFUL
    return subtype["code"], event["action"], event["outcome"]


def agent_id(event: dict[str, Any]) -> str:
    value: str = event["agent"][0]["who"]["identifier"]["value"]
    return value


def entities(event: dict[str, Any]) -> set[str]:
    return {e["what"]["reference"] for e in event.get("entity", [])}


def test_accesses_and_refusals_are_audited(
    live_hub: LiveHub, client_for: ClientFactory, auditor: httpx.Client
) -> None:
    client_id = f"ward-{uuid.uuid4().hex[:8]}"
    fhir = client_for(client_id=client_id, role=Role.practitioner)
    created = fhir.post(
        "/Patient", json={"resourceType": "Patient", "gender": "female", "name": [{"text": "王芳"}]}
    )
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    assert fhir.get(f"/Patient/{pid}").status_code == 200
    assert fhir.get("/Patient", params={"_id": pid}).status_code == 200

    expired, _ = get_issuer().issue(
        client_id=client_id,
        facility="H001",
        role=Role.practitioner,
        scope="user/*.cruds",
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    unauthorized = httpx.get(
        f"{live_hub.fhir_url}/Patient/{pid}",
        headers={"Authorization": f"Bearer {expired}"},
        timeout=30,
    )
    assert unauthorized.status_code == 401
    narrow = client_for(client_id=client_id, role=Role.practitioner, scope="user/Patient.rs")
    assert narrow.post("/Patient", json={"resourceType": "Patient"}).status_code == 403

    events = audit_events(auditor, agent=client_id)
    assert [summary(e) for e in events] == [
        ("create", "C", "0"),
        ("read", "R", "0"),
        ("search-type", "E", "0"),
        ("read", "R", "4"),
        ("create", "C", "4"),
    ]
    assert all(agent_id(e) == client_id for e in events)
    create, read, search, refused_401, refused_403 = events
    assert entities(create) >= {f"Patient/{pid}"}
    assert entities(read) >= {f"Patient/{pid}"}
    assert entities(search) >= {f"Patient/{pid}"}
    assert refused_401["outcomeDesc"].startswith("401")
    assert refused_403["outcomeDesc"].startswith("403")
    assert "H001" in create["agent"][0]["who"]["display"]

    only_refusals = audit_events(auditor, agent=client_id, outcome="4")
    assert [e["id"] for e in only_refusals] == [refused_401["id"], refused_403["id"]]
    reads = audit_events(auditor, agent=client_id, subtype=f"{RESTFUL}|read")
    assert [e["id"] for e in reads] == [read["id"], refused_401["id"]]

    about_patient = audit_events(auditor, patient=pid)
    assert {e["id"] for e in about_patient} >= {create["id"], read["id"], search["id"]}
    assert all(f"Patient/{pid}" in entities(e) for e in about_patient)

    one = auditor.get(f"/AuditEvent/{create['id']}")
    assert one.status_code == 200
    assert one.json() == create


def test_anonymous_refusals_are_audited(live_hub: LiveHub, auditor: httpx.Client) -> None:
    before = {e["id"] for e in audit_events(auditor, agent="anonymous", outcome="4")}
    assert httpx.get(f"{live_hub.fhir_url}/Observation", timeout=30).status_code == 401
    bad_grant = httpx.post(
        f"{live_hub.base_url}/auth/token", data={"grant_type": "password"}, timeout=30
    )
    assert bad_grant.status_code == 400
    new = [
        e for e in audit_events(auditor, agent="anonymous", outcome="4") if e["id"] not in before
    ]
    assert [summary(e) for e in new] == [("read", "R", "4"), ("token", "E", "4")]
    assert new[0]["outcomeDesc"].startswith("401")
    assert "unsupported_grant_type" in new[1]["outcomeDesc"]


def test_patient_sees_only_accesses_to_its_own_record(
    api: httpx.Client, client_for: ClientFactory
) -> None:
    mine = api.post(
        "/Patient", json={"resourceType": "Patient", "name": [{"text": "李娜"}]}
    ).json()["id"]
    other = api.post(
        "/Patient", json={"resourceType": "Patient", "name": [{"text": "刘洋"}]}
    ).json()["id"]
    assert api.get(f"/Patient/{other}").status_code == 200
    app = client_for(role=Role.patient, patient=mine, client_id="patient-app")
    found = app.get("/AuditEvent", params={"_count": "1000"})
    assert found.status_code == 200, found.text
    events = [e["resource"] for e in found.json()["entry"]]
    assert events
    assert all(f"Patient/{mine}" in entities(e) for e in events)
    assert app.get("/AuditEvent", params={"patient": other}).status_code == 403


def test_bad_paging_parameters_are_a_400(auditor: httpx.Client) -> None:
    for params in ({"_count": "ten"}, {"_offset": "-1"}):
        response = auditor.get("/AuditEvent", params=params)
        assert response.status_code == 400, response.text
        assert response.json()["resourceType"] == "OperationOutcome"
    assert len(auditor.get("/AuditEvent", params={"_count": "2"}).json()["entry"]) <= 2


def test_audit_event_is_read_only(api: httpx.Client, auditor: httpx.Client) -> None:
    newest = audit_events(auditor, agent="audit-office")[-1]
    event = {k: v for k, v in newest.items() if k != "id"}
    assert api.post("/AuditEvent", json=event).status_code == 405
    assert api.put(f"/AuditEvent/{newest['id']}", json=newest).status_code == 405
    assert api.delete(f"/AuditEvent/{newest['id']}").status_code == 405
    # Read-only for everyone: the interaction does not exist, whatever the token's scopes.
    assert auditor.post("/AuditEvent", json=event).status_code == 405
    assert auditor.put(f"/AuditEvent/{newest['id']}", json=newest).status_code == 405
    assert auditor.get(f"/AuditEvent/{newest['id']}").json()["outcome"] == newest["outcome"]


# --- the hash chain --------------------------------------------------------------------------


def verify_output() -> tuple[int, str]:
    result = run_hub("audit", "verify")
    return result.returncode, " ".join((result.stdout + result.stderr).split())


@pytest.fixture
def engine(database: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(os.environ["HUB_DATABASE_URL"])
    yield engine
    engine.dispose()


def middle_record(engine: sa.Engine) -> int:
    """A record with records on both sides (the earlier tests made sure there are some)."""
    with engine.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(AuditRecord.seq))).scalar_one()
    assert last is not None and last >= 3
    return int(last // 2)


def test_verify_passes_on_the_intact_chain(live_hub: LiveHub, api: httpx.Client) -> None:
    assert api.get("/Patient", params={"_count": "1"}).status_code == 200
    code, output = verify_output()
    assert code == 0, output
    assert "intact" in output


def test_verify_names_an_edited_record(live_hub: LiveHub, engine: sa.Engine) -> None:
    seq = middle_record(engine)
    table = AuditRecord.__table__
    with engine.begin() as conn:
        original = conn.execute(
            sa.select(table.c.outcome_text).where(table.c.seq == seq)
        ).scalar_one()
        conn.execute(table.update().where(table.c.seq == seq).values(outcome_text="all fine"))
    try:
        code, output = verify_output()
        assert code == 1, output
        assert f"record {seq}: content does not match its hash" in output
    finally:
        with engine.begin() as conn:
            conn.execute(table.update().where(table.c.seq == seq).values(outcome_text=original))
    code, output = verify_output()
    assert code == 0, output


def test_verify_names_a_deleted_record(live_hub: LiveHub, engine: sa.Engine) -> None:
    seq = middle_record(engine)
    records, patients = AuditRecord.__table__, AuditPatient.__table__
    with engine.begin() as conn:
        row = conn.execute(sa.select(records).where(records.c.seq == seq)).mappings().one()
        links = conn.execute(sa.select(patients).where(patients.c.seq == seq)).mappings().all()
        conn.execute(patients.delete().where(patients.c.seq == seq))
        conn.execute(records.delete().where(records.c.seq == seq))
    try:
        code, output = verify_output()
        assert code == 1, output
        assert f"record {seq + 1}: records {seq}..{seq} are missing" in output
    finally:
        with engine.begin() as conn:
            conn.execute(records.insert(), [dict(row)])
            if links:
                conn.execute(patients.insert(), [dict(link) for link in links])
    code, output = verify_output()
    assert code == 0, output
