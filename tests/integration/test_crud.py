"""Create, read, vread, update, delete, history and conditional operations on a live hub."""

from __future__ import annotations

import uuid

import httpx


def _patient(family: str = "张", given: str = "伟", **extra: object) -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "name": [{"family": family, "given": [given]}],
        "gender": "male",
        "birthDate": "1980-03-02",
        **extra,
    }


def test_create_read_update_history_delete(api: httpx.Client) -> None:
    created = api.post("/Patient", json=_patient())
    assert created.status_code == 201, created.text
    body = created.json()
    pid = body["id"]
    assert body["meta"]["versionId"] == "1"
    assert created.headers["etag"] == 'W/"1"'
    assert created.headers["location"].endswith(f"/Patient/{pid}/_history/1")

    read = api.get(f"/Patient/{pid}")
    assert read.status_code == 200
    assert read.json()["name"][0]["family"] == "张"

    updated = api.put(
        f"/Patient/{pid}", json={**body, "gender": "female"}, headers={"If-Match": 'W/"1"'}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["meta"]["versionId"] == "2"

    stale = api.put(
        f"/Patient/{pid}", json={**body, "gender": "other"}, headers={"If-Match": 'W/"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"

    v1 = api.get(f"/Patient/{pid}/_history/1")
    assert v1.json()["gender"] == "male"
    history = api.get(f"/Patient/{pid}/_history").json()
    assert history["type"] == "history"
    assert [e["response"]["etag"] for e in history["entry"]] == ['W/"2"', 'W/"1"']

    assert api.delete(f"/Patient/{pid}").status_code == 204
    assert api.get(f"/Patient/{pid}").status_code == 410
    history = api.get(f"/Patient/{pid}/_history").json()
    assert history["entry"][0]["request"]["method"] == "DELETE"
    assert "resource" not in history["entry"][0]


def test_update_creates_with_client_id(api: httpx.Client) -> None:
    pid = f"client-{uuid.uuid4().hex[:8]}"
    response = api.put(f"/Patient/{pid}", json=_patient(id=pid))
    assert response.status_code == 201
    assert api.get(f"/Patient/{pid}").json()["id"] == pid


def test_conditional_create_returns_existing(api: httpx.Client) -> None:
    mrn = uuid.uuid4().hex
    patient = _patient(identifier=[{"system": "urn:test:mrn", "value": mrn}])
    header = {"If-None-Exist": f"identifier=urn:test:mrn|{mrn}"}
    first = api.post("/Patient", json=patient, headers=header)
    second = api.post("/Patient", json=patient, headers=header)
    assert first.status_code == 201
    assert second.status_code == 200
    assert first.json()["id"] == second.json()["id"]


def test_conditional_update_creates_then_updates(api: httpx.Client) -> None:
    mrn = uuid.uuid4().hex
    patient = _patient(identifier=[{"system": "urn:test:mrn", "value": mrn}])
    url = f"/Patient?identifier=urn:test:mrn|{mrn}"
    first = api.put(url, json=patient)
    assert first.status_code == 201
    second = api.put(url, json={**patient, "gender": "female"})
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["meta"]["versionId"] == "2"


def test_prefer_return_minimal_and_outcome(api: httpx.Client) -> None:
    minimal = api.post("/Patient", json=_patient(), headers={"Prefer": "return=minimal"})
    assert minimal.status_code == 201
    assert minimal.content == b""
    assert "/Patient/" in minimal.headers["location"]
    outcome = api.post("/Patient", json=_patient(), headers={"Prefer": "return=OperationOutcome"})
    assert outcome.json()["resourceType"] == "OperationOutcome"


def test_type_history_and_summary_count(api: httpx.Client) -> None:
    family = f"Hist{uuid.uuid4().hex[:6]}"
    for _ in range(3):
        api.post("/Patient", json=_patient(family=family))
    count = api.get("/Patient", params={"family": family, "_summary": "count"}).json()
    assert count["total"] == 3
    assert "entry" not in count
    history = api.get("/Patient/_history", params={"_count": 2}).json()
    assert len(history["entry"]) == 2
    assert history["total"] >= 3
