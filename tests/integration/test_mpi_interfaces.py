"""The patient index's interfaces on a live hub: $match, PIXm $ihe-pix, person search, golden
records, and what the index keeps at rest.

One person registers at a hospital (H001), a community station (CS0001, writing the family name
章 for 张) and a pharmacy (PH001, last, with another phone); a second 张伟 with another birth date
and resident ID registers at the hospital. Values are random per run, so reruns on one database
do not collide.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from hub.auth.roles import Role
from hub.fhir.systems import ENTERPRISE_ID_SYSTEM, RESIDENT_ID_SYSTEM, facility_patient_system
from hub.mpi.matching.identifiers import make_resident_id
from tests.live import LiveHub, TokenFactory

GRADE_URL = "http://hl7.org/fhir/StructureDefinition/match-grade"
FACILITIES = ("H001", "CS0001", "PH001")


@dataclass(frozen=True)
class Person:
    birth: date
    resident_id: str
    local: dict[str, str]  # facility -> local patient number
    phones: dict[str, str]  # facility -> phone
    patient_ids: dict[str, str]  # facility -> FHIR Patient id


@dataclass(frozen=True)
class World:
    zhang: Person  # three registrations, one of them as 章伟
    other: Person  # another 张伟
    clients: dict[str, httpx.Client]
    base_url: str


def _patient(
    family: str, facility: str, person: Person, *, with_address: bool = True
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [
            {"system": facility_patient_system(facility), "value": person.local[facility]},
            {"system": RESIDENT_ID_SYSTEM, "value": person.resident_id},
        ],
        "name": [{"family": family, "given": ["伟"]}],
        "gender": "male",
        "birthDate": person.birth.isoformat(),
        "telecom": [{"system": "phone", "value": person.phones[facility], "use": "mobile"}],
    }
    if with_address:
        body["address"] = [{"use": "home", "text": "湖北省宜昌市西陵区西陵街道珍珠路12号"}]
    return body


def _new_person(rng: random.Random, birth: date) -> Person:
    tag = rng.randrange(10**9)
    return Person(
        birth=birth,
        resident_id=make_resident_id("420502", birth, rng.randrange(1, 999), "male"),
        local={f: f"{f}-{tag}" for f in FACILITIES},
        phones={f: f"13{rng.randrange(10**9):09d}" for f in FACILITIES},
        patient_ids={},
    )


def _register(client: httpx.Client, body: dict[str, Any]) -> str:
    response = client.post("/Patient", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture(scope="module")
def world(live_hub: LiveHub, make_token: TokenFactory) -> Iterator[World]:
    clients = {
        f: httpx.Client(
            base_url=live_hub.fhir_url,
            headers={
                "Authorization": f"Bearer {make_token(role=Role.facility_system, facility=f)}"
            },
            timeout=30,
        )
        for f in FACILITIES
    }
    rng = random.Random()
    birth = date(rng.randint(1940, 1990), rng.randint(1, 12), rng.randint(1, 28))
    zhang = _new_person(rng, birth)
    other = _new_person(rng, date(birth.year + 7, rng.randint(1, 12), rng.randint(1, 28)))
    for facility, family in (("H001", "张"), ("CS0001", "章"), ("PH001", "张")):
        body = _patient(family, facility, zhang, with_address=facility != "PH001")
        zhang.patient_ids[facility] = _register(clients[facility], body)
    other.patient_ids["H001"] = _register(clients["H001"], _patient("张", "H001", other))
    yield World(zhang, other, clients, live_hub.base_url)
    for client in clients.values():
        client.close()


def _pix(world: World, source: str, *targets: str, client: str = "H001") -> httpx.Response:
    params = [("sourceIdentifier", source), *(("targetSystem", t) for t in targets)]
    return world.clients[client].get("/Patient/$ihe-pix", params=params)


def _identifiers(parameters: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (p["valueIdentifier"]["system"], p["valueIdentifier"]["value"])
        for p in parameters.get("parameter", [])
        if p["name"] == "targetIdentifier"
    ]


def _enterprise_id(world: World, person: Person) -> str:
    response = _pix(world, f"{RESIDENT_ID_SYSTEM}|{person.resident_id}", ENTERPRISE_ID_SYSTEM)
    assert response.status_code == 200, response.text
    [(system, value)] = _identifiers(response.json())
    assert system == ENTERPRISE_ID_SYSTEM
    return value


def _match(world: World, patient: dict[str, Any], **params: Any) -> httpx.Response:
    parameter: list[dict[str, Any]] = [{"name": "resource", "resource": patient}]
    if "only_certain" in params:
        parameter.append({"name": "onlyCertainMatches", "valueBoolean": params["only_certain"]})
    if "count" in params:
        parameter.append({"name": "count", "valueInteger": params["count"]})
    body = {"resourceType": "Parameters", "parameter": parameter}
    return world.clients["H001"].post("/Patient/$match", json=body)


def _grades(bundle: dict[str, Any]) -> dict[str, str]:
    return {
        e["resource"]["id"]: e["search"]["extension"][0]["valueCode"]
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == "match"
    }


# -- PIXm ------------------------------------------------------------------------------------


def test_pix_cross_references_every_registration(world: World) -> None:
    zhang = world.zhang
    response = _pix(world, f"{facility_patient_system('H001')}|{zhang.local['H001']}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "Parameters"
    found = _identifiers(body)
    assert (facility_patient_system("CS0001"), zhang.local["CS0001"]) in found  # 章伟 linked
    assert (facility_patient_system("PH001"), zhang.local["PH001"]) in found
    assert (RESIDENT_ID_SYSTEM, zhang.resident_id) in found
    assert (facility_patient_system("H001"), zhang.local["H001"]) not in found  # the source
    assert [s for s, _ in found].count(ENTERPRISE_ID_SYSTEM) == 1
    targets = {
        p["valueReference"]["reference"] for p in body["parameter"] if p["name"] == "targetId"
    }
    assert targets == {f"Patient/{pid}" for pid in zhang.patient_ids.values()}


def test_pix_target_system_filter(world: World) -> None:
    zhang = world.zhang
    source = f"{RESIDENT_ID_SYSTEM}|{zhang.resident_id}"
    response = _pix(world, source, facility_patient_system("CS0001"), client="PH001")
    assert response.status_code == 200, response.text
    body = response.json()
    assert _identifiers(body) == [(facility_patient_system("CS0001"), zhang.local["CS0001"])]
    assert all(p["name"] == "targetIdentifier" for p in body["parameter"])
    both = _pix(
        world, source, f"{facility_patient_system('H001')},{facility_patient_system('PH001')}"
    )
    assert sorted(v for _, v in _identifiers(both.json())) == sorted(
        [zhang.local["H001"], zhang.local["PH001"]]
    )
    # A known domain where the person has no identifier: 200, nothing returned.
    none = _pix(world, source, facility_patient_system("H002"))
    assert none.status_code == 200 and _identifiers(none.json()) == []


def test_pix_failures_follow_iti83(world: World) -> None:
    unknown = _pix(world, f"{facility_patient_system('H001')}|NO-SUCH-NUMBER")
    assert unknown.status_code == 404
    issue = unknown.json()["issue"][0]
    assert issue["code"] == "not-found"
    assert issue["details"]["text"] == "sourceIdentifier Patient Identifier not found"

    domain = _pix(world, f"urn:oid:1.2.3.4.999|{world.zhang.local['H001']}")
    assert domain.status_code == 400
    assert (
        domain.json()["issue"][0]["diagnostics"] == "sourceIdentifier Assigning Authority not found"
    )

    source = f"{facility_patient_system('H001')}|{world.zhang.local['H001']}"
    target = _pix(world, source, "urn:oid:1.2.3.4.998")
    assert target.status_code == 403
    assert target.json()["issue"][0]["code"] == "code-invalid"
    assert target.json()["issue"][0]["diagnostics"] == "targetSystem not found"

    for bad in ("no-bar", "|value", f"{RESIDENT_ID_SYSTEM}|"):
        response = _pix(world, bad)
        assert response.status_code == 400, bad
        assert response.json()["resourceType"] == "OperationOutcome"
    twice = world.clients["H001"].get(
        "/Patient/$ihe-pix", params=[("sourceIdentifier", source), ("sourceIdentifier", source)]
    )
    assert twice.status_code == 400


def test_pix_by_enterprise_id(world: World) -> None:
    eid = _enterprise_id(world, world.zhang)
    response = _pix(world, f"{ENTERPRISE_ID_SYSTEM}|{eid}", RESIDENT_ID_SYSTEM)
    assert _identifiers(response.json()) == [(RESIDENT_ID_SYSTEM, world.zhang.resident_id)]


# -- $match ----------------------------------------------------------------------------------


def test_match_finds_the_person_first_and_certain(world: World) -> None:
    zhang, other = world.zhang, world.other
    query = _patient("章", "CS0001", zhang, with_address=False)
    query["identifier"] = [{"system": RESIDENT_ID_SYSTEM, "value": zhang.resident_id}]
    response = _match(world, query)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    first = bundle["entry"][0]
    eid = _enterprise_id(world, zhang)
    assert first["resource"]["resourceType"] == "Patient"
    assert first["resource"]["id"] == eid
    assert first["fullUrl"] == f"{world.base_url}/mpi/persons/{eid}"
    assert first["search"]["mode"] == "match"
    assert first["search"]["score"] >= 0.99
    assert first["search"]["extension"] == [{"url": GRADE_URL, "valueCode": "certain"}]
    scores = [e["search"]["score"] for e in bundle["entry"]]
    assert scores == sorted(scores, reverse=True)
    other_eid = _enterprise_id(world, other)
    assert _grades(bundle).get(other_eid, "absent") != "certain"


def test_match_a_different_person_is_not_certain(world: World) -> None:
    zhang, other = world.zhang, world.other
    zhang_eid, other_eid = _enterprise_id(world, zhang), _enterprise_id(world, other)
    query = _patient("张", "H001", other, with_address=False)
    query["identifier"] = [{"system": RESIDENT_ID_SYSTEM, "value": other.resident_id}]
    bundle = _match(world, query).json()
    assert bundle["entry"][0]["resource"]["id"] == other_eid
    assert _grades(bundle).get(zhang_eid, "absent") != "certain"
    # Same name and birth date as 张伟 but another valid resident ID: two people, not certain.
    stranger = dict(query, birthDate=zhang.birth.isoformat())
    rid = make_resident_id("420503", zhang.birth, 7, "male")
    stranger["identifier"] = [{"system": RESIDENT_ID_SYSTEM, "value": rid}]
    stranger["telecom"] = [{"system": "phone", "value": "13700000001"}]
    assert _grades(_match(world, stranger).json()).get(zhang_eid, "absent") != "certain"


def test_match_only_certain_and_count(world: World) -> None:
    zhang = world.zhang
    query = _patient("张", "H001", zhang)
    certain = _match(world, query, only_certain=True).json()
    assert [e["search"]["extension"][0]["valueCode"] for e in certain["entry"]] == ["certain"]
    assert certain["total"] == 1
    # Name and birth year shared with the other 张伟: asking for one entry returns one.
    loose = {"resourceType": "Patient", "name": [{"family": "张", "given": ["伟"]}],
             "birthDate": zhang.birth.isoformat()}  # fmt: skip
    assert len(_match(world, loose, count=1).json().get("entry", [])) <= 1


def test_match_refuses_invalid_parameters(world: World) -> None:
    client = world.clients["H001"]
    patient = _patient("张", "H001", world.zhang)
    cases: list[Any] = [
        patient,  # a Patient, not Parameters
        {"resourceType": "Parameters", "parameter": []},
        {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": {
            "resourceType": "Observation", "status": "final", "code": {"text": "x"}}}]},
        {"resourceType": "Parameters", "parameter": [
            {"name": "resource", "resource": patient}, {"name": "count", "valueInteger": 0}]},
        {"resourceType": "Parameters", "parameter": [
            {"name": "resource", "resource": patient}, {"name": "colour", "valueString": "x"}]},
        {"resourceType": "Parameters", "parameter": [
            {"name": "resource", "resource": patient},
            {"name": "onlyCertainMatches", "valueString": "yes"}]},
        {"resourceType": "Parameters", "parameter": [
            {"name": "resource", "resource": {"resourceType": "Patient", "name": "张伟"}}]},
    ]  # fmt: skip
    for body in cases:
        response = client.post("/Patient/$match", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["resourceType"] == "OperationOutcome"
    empty = _match(world, {"resourceType": "Patient", "gender": "male"})
    assert empty.status_code == 400
    text = empty.json()["issue"][0]["diagnostics"]
    assert "name" in text and "birth_date" in text and "identifier" in text


def test_interfaces_respect_scopes(
    world: World, make_token: TokenFactory, live_hub: LiveHub
) -> None:
    def client(**token: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {make_token(**token)}"}
        return httpx.Client(base_url=live_hub.base_url, headers=headers, timeout=30)

    source = f"{RESIDENT_ID_SYSTEM}|{world.zhang.resident_id}"
    pid = world.zhang.patient_ids["H001"]
    with (
        client(scope="system/Observation.rs") as narrow,
        client(role=Role.patient, patient=pid) as patient,
        client(role=Role.auditor) as auditor,
    ):
        for c in (narrow, patient):
            assert (
                c.get("/fhir/Patient/$ihe-pix", params={"sourceIdentifier": source}).status_code
                == 403
            )
            assert c.get("/mpi/persons", params={"identifier": source}).status_code == 403
        assert (
            auditor.get("/fhir/Patient/$ihe-pix", params={"sourceIdentifier": source}).status_code
            == 200
        )
    assert httpx.get(f"{live_hub.base_url}/mpi/persons/X1").status_code == 401


def test_match_and_pix_are_audited(world: World) -> None:
    pid = world.zhang.patient_ids["CS0001"]
    _pix(world, f"{RESIDENT_ID_SYSTEM}|{world.zhang.resident_id}")
    events = (
        world.clients["H001"]
        .get("/AuditEvent", params={"patient": pid, "subtype": "operation"})
        .json()
    )
    assert events.get("total", len(events.get("entry", []))) >= 1


# -- person search and golden record ----------------------------------------------------------


def test_person_search_by_demographics_and_identifier(world: World) -> None:
    client = world.clients["CS0001"]
    base = world.base_url
    eid = _enterprise_id(world, world.zhang)
    found = client.get(f"{base}/mpi/persons", params={"name": "张伟",
                       "birthdate": world.zhang.birth.isoformat()})  # fmt: skip
    assert found.status_code == 200, found.text
    bundle = found.json()
    assert bundle["type"] == "searchset"
    assert eid in [e["resource"]["id"] for e in bundle["entry"]]
    assert _enterprise_id(world, world.other) not in [e["resource"]["id"] for e in bundle["entry"]]
    by_id = client.get(
        f"{base}/mpi/persons",
        params={"identifier": f"{RESIDENT_ID_SYSTEM}|{world.zhang.resident_id}"},
    )
    assert [e["resource"]["id"] for e in by_id.json()["entry"]] == [eid]
    local = f"{facility_patient_system('PH001')}|{world.zhang.local['PH001']}"
    both = client.get(
        f"{base}/mpi/persons",
        params={
            "identifier": local,
            "family": "张",
            "given": "伟",
            "birthdate": world.zhang.birth.isoformat(),
            "_count": "5",
        },
    )
    assert [e["resource"]["id"] for e in both.json()["entry"]] == [eid]
    phone = client.get(f"{base}/mpi/persons", params={"phone": world.other.phones["H001"],
                       "family": "张", "given": "伟"})  # fmt: skip
    assert _enterprise_id(world, world.other) in [
        e["resource"]["id"] for e in phone.json()["entry"]
    ]
    for bad in ({}, {"gender": "male"}, {"colour": "red"}, {"birthdate": "1990-13-45"},
                {"identifier": "no-system"}, {"name": "张伟", "_count": "0"}):  # fmt: skip
        response = client.get(f"{base}/mpi/persons", params=bad)
        assert response.status_code == 400, (bad, response.text)


def test_golden_record_survivorship(world: World) -> None:
    client = world.clients["PH001"]
    eid = _enterprise_id(world, world.zhang)
    response = client.get(f"{world.base_url}/mpi/persons/{eid}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    golden = response.json()
    assert golden["resourceType"] == "Patient" and golden["id"] == eid
    # The pharmacy registered last, but the hospital's phone and name survive.
    assert golden["telecom"][0]["value"] == world.zhang.phones["H001"]
    assert golden["name"][0]["family"] == "张"
    assert golden["birthDate"] == world.zhang.birth.isoformat()
    identifiers = {(i["system"], i["value"]) for i in golden["identifier"]}
    assert (ENTERPRISE_ID_SYSTEM, eid) in identifiers
    assert (RESIDENT_ID_SYSTEM, world.zhang.resident_id) in identifiers
    assert client.get(f"{world.base_url}/mpi/persons/YCNOSUCHPERSON").status_code == 404
    assert client.get(f"{world.base_url}/mpi/persons/bad%20id").status_code == 400


# -- at rest ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(database: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(os.environ["HUB_DATABASE_URL"])
    yield engine
    engine.dispose()


def test_index_tables_hold_no_plaintext(world: World, engine: sa.Engine) -> None:
    secrets = [world.zhang.resident_id, *world.zhang.phones.values(), world.other.resident_id]
    columns = [("mpi_identifier", "value"), ("mpi_source", "features"),
               ("mpi_person", "golden"), ("mpi_block_key", "key")]  # fmt: skip
    with engine.connect() as conn:
        for table, column in columns:
            rows = conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            assert rows > 0, table
            for secret in secrets:
                hits = conn.execute(
                    sa.text(f"SELECT COUNT(*) FROM {table} WHERE {column} LIKE :p"),
                    {"p": f"%{secret}%"},
                ).scalar_one()
                assert hits == 0, (table, column)
        # The cross-reference is there, by blind index only.
        systems = conn.execute(
            sa.text("SELECT COUNT(*) FROM mpi_identifier WHERE system = :s"),
            {"s": RESIDENT_ID_SYSTEM},
        ).scalar_one()
        assert systems >= 4
