"""Reading around consent without reading: chained-search totals as an oracle, forged endpoints
and subscriptions that would deliver another facility's data, bulk-loaded records without an
origin. Each attempt is written as the issue's attacker made it."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import select, update

from adapters.outbound.endpoints import facility_endpoints
from adapters.outbound.models import Channel
from adapters.outbound.subscriptions import active_subscriptions
from hub.audit.models import AuditRecord
from hub.auth.roles import Role
from hub.db import session_scope
from hub.fhir.models import ResourceRow
from hub.fhir.origin import facility_source
from hub.fhir.reindex import reindex
from hub.fhir.systems import facility_patient_system
from hub.mpi.loading.bulk import load_csv
from hub.security.fields import get_cipher
from tests.integration.test_consent_records import actor, consent

ClientFactory = Callable[..., httpx.Client]
CONNECTION_SYSTEM = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"


def _create(client: httpx.Client, resource: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _total(client: httpx.Client, resource_type: str, **params: str) -> int:
    response = client.get(f"/{resource_type}", params={**params, "_total": "accurate"})
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


def _victim(hospital: httpx.Client, birth: str) -> str:
    return str(
        _create(
            hospital,
            {
                "resourceType": "Patient",
                "name": [{"family": f"谕{uuid.uuid4().hex[:6]}"}],
                "gender": "female",
                "birthDate": birth,
            },
        )["id"]
    )


def test_a_chained_search_total_reveals_nothing_a_read_would_refuse(
    client_for: ClientFactory,
) -> None:
    hospital, denied, other = (client_for(facility=f) for f in ("H001", "H002", "H003"))
    victim = _victim(hospital, "1968-07-21")
    _create(hospital, consent(victim, {"type": "deny", "actor": [actor("Organization/H002")]}))
    # the attacker's own resource about the patient: its own records it always sees
    probe = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "probe"},
        "subject": {"reference": f"Patient/{victim}"},
    }
    own = _create(denied, probe)["id"]
    theirs = _create(other, probe)["id"]
    for bound in ("le1968-07-21", "gt1968-07-21", "ge1900-01-01"):
        chain = {"subject:Patient.birthdate": bound}
        assert _total(denied, "Observation", _id=own, **chain) == 0
    # a facility the patient did not deny gets the true answer through the same chain
    assert (
        _total(other, "Observation", _id=theirs, **{"subject:Patient.birthdate": "le1968-07-21"})
        == 1
    )
    assert (
        _total(other, "Observation", _id=theirs, **{"subject:Patient.birthdate": "gt1968-07-21"})
        == 0
    )


def test_a_patient_token_cannot_probe_another_patient_through_its_own_appointment(
    client_for: ClientFactory,
) -> None:
    hospital = client_for(facility="H001")
    me, other = _victim(hospital, "1990-01-02"), _victim(hospital, "1955-05-05")
    shared = _create(
        client_for(role=Role.operator, facility="HUB"),
        {
            "resourceType": "Appointment",
            "status": "booked",
            "participant": [
                {"actor": {"reference": f"Patient/{me}"}, "status": "accepted"},
                {"actor": {"reference": f"Patient/{other}"}, "status": "accepted"},
            ],
        },
    )["id"]
    app = client_for(role=Role.patient, patient=me)
    assert (
        _total(app, "Appointment", _id=shared, **{"patient:Patient.birthdate": "eq1990-01-02"}) == 1
    )
    assert (
        _total(app, "Appointment", _id=shared, **{"patient:Patient.birthdate": "eq1955-05-05"}) == 0
    )
    assert _total(app, "Appointment", _id=shared, **{"patient:Patient.birthdate": "le1960"}) == 0


def _endpoint(code: str, address: str, connection: str = "hl7-fhir-rest") -> dict[str, Any]:
    return {
        "resourceType": "Endpoint",
        "status": "active",
        "connectionType": {"system": CONNECTION_SYSTEM, "code": connection},
        "managingOrganization": {"reference": f"Organization/{code}"},
        "payloadType": [{"text": "any"}],
        "address": address,
    }


def _subscription(url: str) -> dict[str, Any]:
    return {
        "resourceType": "Subscription",
        "status": "active",
        "reason": "sync",
        "criteria": "Condition?",
        "channel": {"type": "rest-hook", "endpoint": url, "payload": "application/fhir+json"},
    }


def test_a_facility_cannot_receive_in_another_facilitys_name(client_for: ClientFactory) -> None:
    attacker = client_for(facility="H002")
    operator = client_for(role=Role.operator, facility="HUB")
    tag = uuid.uuid4().hex[:8]
    victim_base = f"https://h001-{tag}.example/fhir"
    _create(operator, _endpoint("H001", victim_base))
    forged = attacker.post("/Endpoint", json=_endpoint("H001", f"https://evil-{tag}.example/fhir"))
    assert forged.status_code == 403, forged.text
    mllp = attacker.post(
        "/Endpoint", json=_endpoint("H001", "mllp://203.0.113.9:2575", "hl7v2-mllp")
    )
    assert mllp.status_code == 403
    to_victim = attacker.post("/Subscription", json=_subscription(f"{victim_base}/hook"))
    assert to_victim.status_code == 403, to_victim.text
    own_base = f"https://h002-{tag}.example/fhir"
    _create(attacker, _endpoint("H002", own_base))
    _create(attacker, _subscription(f"{own_base}/hook"))  # its own: fine


def test_delivery_trusts_no_endpoint_or_subscription_recorded_in_another_facilitys_name(
    client_for: ClientFactory,
) -> None:
    """Rows written before the write rules (here: an operator stamping the attacker's origin)
    are never used to deliver the other facility's messages."""
    operator = client_for(role=Role.operator, facility="HUB")
    tag = uuid.uuid4().hex[:8]
    code = "H004"
    as_attacker = {"source": facility_source("H002")}
    forged = _create(
        operator,
        {
            **_endpoint(code, f"https://evil-{tag}.example/fhir"),
            "meta": as_attacker,
        },
    )
    real = _create(operator, _endpoint(code, f"https://h004-{tag}.example/fhir"))
    subscription = _create(
        operator,
        {**_subscription(f"https://h004-{tag}.example/fhir/hook"), "meta": as_attacker},
    )
    with session_scope() as session:
        cipher = get_cipher()
        used = {
            e.endpoint_id for e in facility_endpoints(session, cipher, code, Channel.FHIR_REST_HOOK)
        }
        assert real["id"] in used and forged["id"] not in used
        active = {s.subscription_id for s in active_subscriptions(session, cipher, "Condition")}
        assert subscription["id"] not in active


def test_bulk_loaded_patients_carry_their_facility_as_origin(
    client_for: ClientFactory, tmp_path: Path
) -> None:
    path = tmp_path / "patients.csv"
    source_id = f"B{uuid.uuid4().hex[:8]}"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source_id", "name", "gender", "birth_date", "phone", "address"])
        writer.writerow([source_id, "载明", "男", "1975-02-03",
                         "13900001234", "湖北省宜昌市西陵区"])  # fmt: skip
    report = load_csv(path, "H001")
    assert report.loaded == 1, report
    hospital = client_for(facility="H001")
    found = hospital.get(
        "/Patient", params={"identifier": f"{facility_patient_system('H001')}|{source_id}"}
    )
    (entry,) = found.json()["entry"]
    assert entry["resource"]["meta"]["source"] == facility_source("H001")


def test_reindex_gives_unstamped_patients_the_origin_the_index_knows(
    client_for: ClientFactory,
) -> None:
    hospital = client_for(facility="H001")
    patient = _create(
        hospital,
        {"resourceType": "Patient", "name": [{"family": f"旧{uuid.uuid4().hex[:6]}"}],
         "birthDate": "1950-01-01", "gender": "male"},
    )  # fmt: skip
    with session_scope() as session:  # as stored before every path stamped an origin
        content = session.execute(
            select(ResourceRow.content).where(
                ResourceRow.resource_type == "Patient", ResourceRow.resource_id == patient["id"]
            )
        ).scalar_one()
        stored = orjson.loads(content)
        del stored["meta"]["source"]
        session.execute(
            update(ResourceRow)
            .where(ResourceRow.resource_type == "Patient", ResourceRow.resource_id == patient["id"])
            .values(content=orjson.dumps(stored).decode())
        )
    assert "source" not in hospital.get(f"/Patient/{patient['id']}").json()["meta"]
    reindex("Patient")
    healed = hospital.get(f"/Patient/{patient['id']}").json()
    assert healed["meta"]["source"] == facility_source("H001")
    with session_scope() as session:  # the repair is in the audit log, like any change
        repaired = session.execute(
            select(AuditRecord.seq).where(
                AuditRecord.interaction == "update",
                AuditRecord.query_params == "origin-repair",
                AuditRecord.resources.contains(f"Patient/{patient['id']}"),
            )
        ).all()
    assert len(repaired) == 1
