"""Consent decisions in the audit log, a patient's own access log, break-glass review and
retention pruning, on a live hub.

Records carrying a consent decision are written in-process with ``record_standalone`` (the store
fills these fields when it enforces consent); everything else goes through the API and the CLI.
The pruning test ages and prunes the oldest records of the shared test database.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from hub.audit.chain import record_hash
from hub.audit.checkpoints import CheckpointKind, signed_checkpoint
from hub.audit.keys import audit_hmac_key
from hub.audit.models import GENESIS_HASH, AuditCheckpoint, AuditHead, AuditPatient, AuditRecord
from hub.audit.service import AuditEntry, record_standalone
from hub.auth.actor import Actor
from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.auth.service import get_issuer
from hub.fhir.validation import validate_resource
from tests.integration.hub_cli import run_hub
from tests.live import LiveHub, TokenFactory

ClientFactory = Callable[..., httpx.Client]
PURPOSE = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
REASON = "unconscious patient brought to the ER"


def client(live_hub: LiveHub, token: str, path: str = "/fhir") -> httpx.Client:
    return httpx.Client(
        base_url=f"{live_hub.base_url}{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def emergency_token(client_id: str) -> str:
    token, _ = get_issuer().issue(
        client_id=client_id,
        facility="H002",
        role=Role.practitioner,
        scope=DEFAULT_SCOPES[Role.practitioner],
        purpose_of_use="ETREAT",
        purpose_reason=REASON,
    )
    return token


def decided_entry(client_id: str, patient: str, **fields: Any) -> AuditEntry:
    actor = Actor.build(
        client_id=client_id,
        facility="H002",
        role=Role.practitioner,
        scope="user/*.rs",
        purpose_of_use="ETREAT",
        purpose_reason=REASON,
        source_address="10.1.2.3",
    )
    values: dict[str, Any] = {
        "decision": "permit-with-redaction",
        "consents": [f"Consent/c-{patient}"],
        "break_glass": True,
        "break_glass_reason": REASON,
        "denied": [f"Observation/hiv-{patient}"],
    }
    values.update(fields)
    return AuditEntry(
        actor,
        "search-type",
        "Observation",
        [f"Observation/o-{patient}"],
        [patient],
        query_params="patient,code",
        **values,
    )


def events(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", [])]


def refs(event: dict[str, Any]) -> set[str]:
    return {e["what"]["reference"] for e in event.get("entity", [])}


@pytest.fixture(scope="module")
def auditor(live_hub: LiveHub, make_token: TokenFactory) -> Iterator[httpx.Client]:
    with client(live_hub, make_token(role=Role.auditor, client_id="audit-office")) as c:
        yield c


@pytest.fixture(scope="module")
def patient_ids(api: httpx.Client) -> tuple[str, str]:
    ids = []
    for name in ("陈静", "杨磊"):
        created = api.post("/Patient", json={"resourceType": "Patient", "name": [{"text": name}]})
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    return ids[0], ids[1]


# --- consent decisions in AuditEvent ------------------------------------------------------------


def test_a_consent_decision_renders_as_a_valid_audit_event(
    auditor: httpx.Client, patient_ids: tuple[str, str]
) -> None:
    mine, _ = patient_ids
    client_id = f"er-{uuid.uuid4().hex[:8]}"
    record_standalone(decided_entry(client_id, mine))
    [event] = events(auditor.get("/AuditEvent", params={"agent": client_id}))
    validate_resource("AuditEvent", event)

    agent = event["agent"][0]
    assert agent["purposeOfUse"] == [
        {"coding": [{"system": PURPOSE, "code": "ETREAT"}], "text": REASON}
    ]
    assert event["purposeOfEvent"] == [
        {"coding": [{"system": PURPOSE, "code": "ETREAT"}], "text": REASON}
    ]
    extensions = {e["url"].rpartition("/")[2]: e for e in event["extension"]}
    assert extensions["audit-break-glass"]["valueBoolean"] is True
    assert extensions["audit-consent-decision"]["valueCode"] == "permit-with-redaction"
    consent = next(e for e in event["entity"] if e["what"]["reference"] == f"Consent/c-{mine}")
    assert consent["type"]["code"] == "Consent"
    assert consent["role"]["code"] == "13"
    withheld = next(e for e in event["entity"] if e.get("description"))
    assert withheld["what"]["reference"] == f"Observation/hiv-{mine}"
    assert agent["network"]["address"] == "10.1.2.3"


def test_records_without_a_decision_render_as_before(auditor: httpx.Client) -> None:
    # Reading the audit log concerns no patient: no consent decision applies to it.
    assert auditor.get("/AuditEvent", params={"_count": "1"}).status_code == 200
    [event] = events(auditor.get("/AuditEvent", params={"agent": "audit-office", "_count": "1"}))
    validate_resource("AuditEvent", event)
    assert event["subtype"][0]["code"] == "search-type"
    assert "purposeOfEvent" not in event
    # The chain hash appears once the hub's chainer has linked the record, just after commit.
    deadline = time.monotonic() + 15
    while "extension" not in event and time.monotonic() < deadline:
        time.sleep(0.2)
        event = auditor.get(f"/AuditEvent/{event['id']}").json()
    linked = [e["url"].rpartition("/")[2] for e in event.get("extension", [])]
    assert linked == ["audit-chain-hash"], run_hub("audit", "verify").stderr


# --- a patient's own access log -----------------------------------------------------------------


def test_patient_sees_who_accessed_their_record_and_why(
    live_hub: LiveHub,
    api: httpx.Client,
    client_for: ClientFactory,
    patient_ids: tuple[str, str],
) -> None:
    mine, other = patient_ids
    er_client = f"er-{uuid.uuid4().hex[:8]}"
    with client(live_hub, emergency_token(er_client)) as er:
        assert er.get(f"/Patient/{mine}").status_code == 200
        both = er.get("/Patient", params={"_id": f"{mine},{other}"})
        assert both.status_code == 200 and both.json()["total"] == 2
    record_standalone(decided_entry(er_client, mine))
    record_standalone(decided_entry(er_client, other))

    app = client_for(role=Role.patient, patient=mine, client_id="patient-app")
    log = events(app.get("/AuditEvent", params={"_count": "1000"}))
    assert log and all(f"Patient/{mine}" in refs(e) for e in log)
    assert log == events(app.get("/AuditEvent", params={"patient": f"Patient/{mine}"}))
    assert log == events(app.get("/AuditEvent", params={"patient": mine}))
    er_events = [e for e in log if e["agent"][0]["who"]["identifier"]["value"] == er_client]
    assert len(er_events) == 3  # the read, the two-patient search, the decided search
    for event in er_events:
        validate_resource("AuditEvent", event)
        agent = event["agent"][0]
        assert agent["who"]["display"] == "practitioner @ H002"
        assert agent["purposeOfUse"][0]["coding"][0]["code"] == "ETREAT"
        assert agent["purposeOfUse"][0]["text"] == REASON
        assert "network" not in agent
        assert event["recorded"]
        assert not any(other in ref for ref in refs(event))
    search_both = next(
        e
        for e in er_events
        if e["subtype"][0]["code"] == "search-type" and "Consent" not in str(refs(e))
    )
    assert refs(search_both) == {f"Patient/{mine}"}  # not the other patient, no resources
    decided = next(e for e in er_events if "purposeOfEvent" in e)
    assert refs(decided) == {
        f"Observation/o-{mine}",
        f"Patient/{mine}",
        f"Consent/c-{mine}",
        f"Observation/hiv-{mine}",
    }
    one = app.get(f"/AuditEvent/{decided['id']}")
    assert one.status_code == 200 and one.json() == decided


def test_patient_cannot_read_another_patients_log(
    client_for: ClientFactory, patient_ids: tuple[str, str], auditor: httpx.Client
) -> None:
    mine, other = patient_ids
    app = client_for(role=Role.patient, patient=mine, client_id="patient-app")
    for value in (other, f"Patient/{other}"):
        refused = app.get("/AuditEvent", params={"patient": value})
        assert refused.status_code == 403, refused.text
        assert refused.json()["resourceType"] == "OperationOutcome"
    about_other = events(auditor.get("/AuditEvent", params={"patient": other, "_count": "1"}))
    assert app.get(f"/AuditEvent/{about_other[0]['id']}").status_code == 404


# --- break-glass review -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def operator(live_hub: LiveHub, make_token: TokenFactory) -> Iterator[httpx.Client]:
    with client(live_hub, make_token(role=Role.operator, client_id="ops"), "/audit") as c:
        yield c


def test_operators_and_auditors_list_break_glass_accesses(
    live_hub: LiveHub,
    make_token: TokenFactory,
    operator: httpx.Client,
    patient_ids: tuple[str, str],
) -> None:
    mine, _ = patient_ids
    since = datetime.now(UTC) - timedelta(seconds=5)
    client_id = f"er-{uuid.uuid4().hex[:8]}"
    with client(live_hub, emergency_token(client_id)) as er:
        assert er.get(f"/Patient/{mine}").status_code == 200  # ETREAT, no override recorded
    record_standalone(decided_entry(client_id, mine))  # ETREAT that overrode a deny

    listed = operator.get("/break-glass", params={"since": since.isoformat()})
    assert listed.status_code == 200, listed.text
    ours = [i for i in listed.json()["items"] if i["client"] == client_id]
    assert [i["overrodeConsent"] for i in ours] == [True, False]  # newest first
    newest = ours[0]
    assert newest["patients"] == [mine]
    assert newest["reason"] == REASON
    assert newest["facility"] == "H002"
    assert newest["resources"] == [f"Observation/o-{mine}"]
    assert newest["consents"] == [f"Consent/c-{mine}"]
    assert newest["review"] is None
    assert ours[1]["reason"] == REASON  # the token's reason, kept for every ETREAT access

    page = operator.get("/break-glass", params={"since": since.isoformat(), "_count": "1"})
    assert len(page.json()["items"]) == 1 and "next" in page.json()
    assert httpx.get(page.json()["next"], headers=operator.headers).json()["items"][0] == ours[1]
    later = operator.get("/break-glass", params={"since": "2999-01-01"})
    assert later.json() == {"total": 0, "items": []}
    assert operator.get("/break-glass", params={"since": "yesterday"}).status_code == 400

    with client(live_hub, make_token(role=Role.auditor, client_id="audit-office"), "/audit") as a:
        assert a.get("/break-glass").status_code == 200
    with client(live_hub, make_token(role=Role.practitioner), "/audit") as p:
        refused = p.get("/break-glass")
        assert refused.status_code == 403
        assert refused.json()["resourceType"] == "OperationOutcome"


def test_an_operator_marks_a_break_glass_access_reviewed(
    live_hub: LiveHub,
    make_token: TokenFactory,
    operator: httpx.Client,
    patient_ids: tuple[str, str],
) -> None:
    client_id = f"er-{uuid.uuid4().hex[:8]}"
    record_standalone(decided_entry(client_id, patient_ids[0]))
    unreviewed = operator.get("/break-glass", params={"unreviewed": "true"}).json()["items"]
    seq = next(i["seq"] for i in unreviewed if i["client"] == client_id)

    with client(live_hub, make_token(role=Role.auditor, client_id="audit-office"), "/audit") as a:
        assert a.post(f"/break-glass/{seq}/review", json={"note": "ok"}).status_code == 403
    assert operator.post(f"/break-glass/{seq}/review", json={"note": " "}).status_code == 400
    done = operator.post(f"/break-glass/{seq}/review", json={"note": "confirmed with ER lead"})
    assert done.status_code == 201, done.text
    assert done.json()["review"]["reviewer"] == "ops"
    again = operator.post(f"/break-glass/{seq}/review", json={"note": "twice"})
    assert again.status_code == 409
    not_break_glass = operator.post("/break-glass/1/review", json={"note": "x"})
    assert not_break_glass.status_code in (404, 409)

    items = operator.get("/break-glass").json()["items"]
    reviewed = next(i for i in items if i["seq"] == seq)
    assert reviewed["review"]["note"] == "confirmed with ER lead"
    remaining = operator.get("/break-glass", params={"unreviewed": "1"}).json()["items"]
    assert seq not in {i["seq"] for i in remaining}

    wide = {**os.environ, "COLUMNS": "400"}
    table = run_hub("audit", "break-glass", "--since", "2000-01-01", "--limit", "500", env=wide)
    assert table.returncode == 0, table.stderr
    assert client_id in table.stdout and "confirmed with ER" in table.stdout


# --- retention ----------------------------------------------------------------------------------


@pytest.fixture
def engine(database: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(os.environ["HUB_DATABASE_URL"])
    yield engine
    engine.dispose()


def age_records(engine: sa.Engine, upto_seq: int, days: int) -> None:
    """Make the records up to ``upto_seq`` look ``days`` old, rehashing the chain after them and
    signing its checkpoints again (as if the records had been written that long ago)."""
    from sqlalchemy.orm import Session

    when = datetime.now(UTC) - timedelta(days=days)
    with Session(engine) as session:
        head = session.get(AuditHead, 1)
        assert head is not None
        prev = head.anchor_hash if head.anchor_seq else GENESIS_HASH
        records = (
            session.execute(
                sa.select(AuditRecord)
                .where(AuditRecord.seq > head.anchor_seq)
                .order_by(AuditRecord.seq)
            )
            .scalars()
            .all()
        )
        patients: dict[int, list[str]] = {}
        for seq, patient_id in session.execute(
            sa.select(AuditPatient.seq, AuditPatient.patient_id)
        ):
            patients.setdefault(seq, []).append(patient_id)
        hashes: dict[int, str] = {}
        for rec in records:
            if rec.seq <= upto_seq:
                rec.recorded = when
            rec.prev_hash = prev
            rec.hash = prev = record_hash(rec, patients.get(rec.seq, []), key=audit_hmac_key())
            hashes[rec.seq] = rec.hash
        head.last_hash = prev
        for cp in session.execute(sa.select(AuditCheckpoint)).scalars().all():
            if cp.seq in hashes:
                session.delete(cp)
                kind = CheckpointKind(cp.kind)
                session.add(AuditCheckpoint(**signed_checkpoint(cp.seq, hashes[cp.seq], kind)))
        session.commit()


def output(result: Any) -> str:
    return " ".join((result.stdout + result.stderr).split())


def test_prune_keeps_the_chain_verifiable(live_hub: LiveHub, engine: sa.Engine) -> None:
    with engine.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(AuditRecord.seq))).scalar_one()
    assert last is not None and last > 10
    cut = last - 5
    age_records(engine, cut, days=400)
    assert run_hub("audit", "verify").returncode == 0

    too_short = run_hub("audit", "prune", env={**os.environ, "HUB_AUDIT_RETENTION_DAYS": "30"})
    assert too_short.returncode != 0
    assert "at least 183 days" in output(too_short)

    dry = run_hub("audit", "prune", "--dry-run")
    assert dry.returncode == 0, output(dry)
    assert "would remove" in output(dry)
    pruned = run_hub("audit", "prune")
    assert pruned.returncode == 0, output(pruned)
    assert f"chain anchor: record {cut}" in output(pruned)
    with engine.connect() as conn:
        first = conn.execute(sa.select(sa.func.min(AuditRecord.seq))).scalar_one()
        anchor = conn.execute(sa.select(AuditHead.anchor_seq)).scalar_one()
    assert (first, anchor) == (cut + 1, cut)
    verified = run_hub("audit", "verify")
    assert verified.returncode == 0, output(verified)
    assert run_hub("audit", "prune").returncode == 0  # nothing more is old enough

    table = AuditRecord.__table__
    with engine.begin() as conn:
        original = conn.execute(
            sa.select(table.c.outcome_text).where(table.c.seq == cut + 2)
        ).scalar_one()
        conn.execute(table.update().where(table.c.seq == cut + 2).values(outcome_text="edited"))
    try:
        broken = run_hub("audit", "verify")
        assert broken.returncode == 1
        assert f"record {cut + 2}: content does not match its hash" in output(broken)
        refused = run_hub("audit", "prune")
        assert refused.returncode == 1 and "broken" in output(refused)
    finally:
        with engine.begin() as conn:
            conn.execute(table.update().where(table.c.seq == cut + 2).values(outcome_text=original))
    assert run_hub("audit", "verify").returncode == 0
