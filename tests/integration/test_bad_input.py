"""Malformed and refused requests: each gets an OperationOutcome, and none writes anything.

Every refusal is checked the same way: the status, ``resourceType: OperationOutcome``, the
``application/fhir+json`` content type, and unchanged version counts of the types involved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.live import LiveHub

FHIR_JSON = "application/fhir+json"
WATCHED_TYPES = ("Patient", "Observation", "Encounter")
TWO_MIB = 2 * 1024 * 1024


def _patient(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"family": "王", "given": ["芳"]}],
        "gender": "female",
        "birthDate": "1985-06-15",
        **extra,
    }


def _versions(api: httpx.Client) -> dict[str, int]:
    """How many versions of each watched type the hub holds (every write adds one)."""
    counts = {}
    for resource_type in WATCHED_TYPES:
        response = api.get(f"/{resource_type}/_history", params={"_count": 0})
        assert response.status_code == 200, response.text
        counts[resource_type] = response.json()["total"]
    return counts


@pytest.fixture
def nothing_written(api: httpx.Client) -> Iterator[None]:
    before = _versions(api)
    yield
    assert _versions(api) == before, "a refused request wrote something"


def assert_outcome(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"], "an OperationOutcome needs at least one issue"
    assert body["issue"][0]["severity"] in ("error", "fatal")
    return body


@pytest.fixture(scope="module")
def existing_patient(api: httpx.Client) -> dict[str, Any]:
    response = api.post("/Patient", json=_patient())
    assert response.status_code == 201, response.text
    patient: dict[str, Any] = response.json()
    return patient


# -- bodies that are not a resource ------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "content"),
    [
        ("invalid JSON", b'{"resourceType": "Patient", "gender": '),
        ("not UTF-8", b'{"resourceType": "Patient", "gender": "\xff"}'),
        ("empty body", b""),
        ("whitespace body", b"  \n"),
        ("JSON array", b'[{"resourceType": "Patient"}]'),
        ("JSON string", b'"Patient"'),
        ("JSON null", b"null"),
    ],
)
@pytest.mark.usefixtures("nothing_written")
def test_body_that_is_not_a_json_object(
    api: httpx.Client, existing_patient: dict[str, Any], label: str, content: bytes
) -> None:
    assert_outcome(api.post("/Patient", content=content), 400)
    assert_outcome(api.put(f"/Patient/{existing_patient['id']}", content=content), 400)
    assert_outcome(api.post("", content=content), 400)


@pytest.mark.usefixtures("nothing_written")
def test_body_over_the_size_limit(api: httpx.Client) -> None:
    padding = "x" * TWO_MIB
    oversized = _patient(text={"status": "generated", "div": f"<div>{padding}</div>"})
    assert_outcome(api.post("/Patient", json=oversized), 413)
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [], "id": padding}
    assert_outcome(api.post("", json=bundle), 413)


@pytest.mark.usefixtures("nothing_written")
def test_streamed_body_over_the_size_limit(api: httpx.Client) -> None:
    """Without a Content-Length the hub must stop reading at the limit, not trust the header."""

    def chunks() -> Iterator[bytes]:
        yield b'{"resourceType": "Patient", "id": "'
        for _ in range(3):
            yield b"a" * (1024 * 1024)
        yield b'"}'

    assert_outcome(api.post("/Patient", content=chunks()), 413)


# -- the URL and the body disagree -------------------------------------------------------------


def test_unknown_resource_type(api: httpx.Client) -> None:
    for response in (
        api.get("/Spaceship"),
        api.get("/Spaceship/1"),
        api.post("/Spaceship", json={"resourceType": "Spaceship"}),
        api.put("/Spaceship/1", json={"resourceType": "Spaceship", "id": "1"}),
        api.delete("/Spaceship/1"),
    ):
        outcome = assert_outcome(response, 404)
        assert outcome["issue"][0]["code"] == "not-supported"


@pytest.mark.usefixtures("nothing_written")
def test_body_type_differs_from_url_type(
    api: httpx.Client, existing_patient: dict[str, Any]
) -> None:
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    assert_outcome(api.post("/Patient", json=observation), 400)
    assert_outcome(api.post("/Encounter", json=_patient()), 400)
    pid = existing_patient["id"]
    assert_outcome(api.put(f"/Patient/{pid}", json={**observation, "id": pid}), 400)
    assert_outcome(api.post("/Patient", json={**_patient(), "resourceType": None}), 400)


@pytest.mark.usefixtures("nothing_written")
def test_put_body_id_differs_from_url_id(
    api: httpx.Client, existing_patient: dict[str, Any]
) -> None:
    pid = existing_patient["id"]
    assert_outcome(api.put(f"/Patient/{pid}", json={**existing_patient, "id": "other"}), 400)
    body_without_id = {k: v for k, v in existing_patient.items() if k != "id"}
    assert_outcome(api.put(f"/Patient/{pid}", json=body_without_id), 400)
    assert_outcome(api.put("/Patient/new-id-1", json=_patient(id="new-id-2")), 400)
    assert api.get("/Patient/new-id-1").status_code == 404


@pytest.mark.parametrize(
    "bad_id",
    [
        "has_underscore",
        "has%20space",
        "x" * 65,
        "%C3%A9t%C3%A9",  # été
        "semi;colon",
    ],
)
@pytest.mark.usefixtures("nothing_written")
def test_invalid_id_in_url(api: httpx.Client, bad_id: str) -> None:
    for response in (
        api.get(f"/Patient/{bad_id}"),
        api.put(f"/Patient/{bad_id}", json=_patient(id=bad_id)),
        api.delete(f"/Patient/{bad_id}"),
        api.get(f"/Patient/{bad_id}/_history"),
    ):
        assert response.status_code in (400, 404), response.text
        assert_outcome(response, response.status_code)


# -- resources that do not validate ------------------------------------------------------------


@pytest.mark.parametrize(
    ("element", "patch"),
    [
        ("gender", {"gender": "maybe"}),
        ("birthDate", {"birthDate": "1980-13-45"}),
        ("birthDate", {"birthDate": 1980}),
        ("favouriteColour", {"favouriteColour": "blue"}),
        ("name", {"name": "王芳"}),
        ("active", {"active": "yes"}),
        ("telecom", {"telecom": [{"system": "carrier-pigeon", "value": "123"}]}),
        ("contact", {"contact": [{"gender": "maybe"}]}),
    ],
)
@pytest.mark.usefixtures("nothing_written")
def test_invalid_resource_names_the_element(
    api: httpx.Client, existing_patient: dict[str, Any], element: str, patch: dict[str, Any]
) -> None:
    created = assert_outcome(api.post("/Patient", json=_patient(**patch)), 400)
    assert element in str(created["issue"]), created
    pid = existing_patient["id"]
    updated = assert_outcome(api.put(f"/Patient/{pid}", json={**existing_patient, **patch}), 400)
    assert element in str(updated["issue"]), updated


@pytest.mark.parametrize(
    ("element", "patch"),
    [
        ("status", {"status": "finalised"}),
        ("valueQuantity", {"valueQuantity": {"value": "seventy-two"}}),
        ("valueQuantity", {"valueQuantity": {"value": "72"}}),  # a JSON string, not a number
        ("valueQuantity", {"valueQuantity": {"value": 72, "comparator": "about"}}),
        ("code", {"code": None}),  # required element missing
        ("subject", {"subject": "Patient/1"}),
    ],
)
@pytest.mark.usefixtures("nothing_written")
def test_invalid_observation_names_the_element(
    api: httpx.Client, element: str, patch: dict[str, Any]
) -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "heart rate"},
        "valueQuantity": {"value": 72, "unit": "/min"},
    }
    body = {k: v for k, v in {**observation, **patch}.items() if v is not None}
    outcome = assert_outcome(api.post("/Observation", json=body), 400)
    assert element in str(outcome["issue"]), outcome


# -- headers, methods and tokens ---------------------------------------------------------------


@pytest.mark.parametrize("if_match", ["garbage", 'W/"abc"', "W/", '"1.5"'])
@pytest.mark.usefixtures("nothing_written")
def test_if_match_that_is_not_an_etag(
    api: httpx.Client, existing_patient: dict[str, Any], if_match: str
) -> None:
    pid = existing_patient["id"]
    response = api.put(
        f"/Patient/{pid}",
        json={**existing_patient, "gender": "male"},
        headers={"If-Match": if_match},
    )
    assert_outcome(response, 400)
    assert api.get(f"/Patient/{pid}").json()["gender"] == "female"


def test_audit_event_is_read_only(api: httpx.Client) -> None:
    event = {
        "resourceType": "AuditEvent",
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
        "recorded": "2024-01-01T00:00:00Z",
        "agent": [{"requestor": True}],
        "source": {"observer": {"display": "forged"}},
    }
    assert_outcome(api.post("/AuditEvent", json=event), 405)
    assert_outcome(api.put("/AuditEvent/forged-1", json={**event, "id": "forged-1"}), 405)
    assert_outcome(api.delete("/AuditEvent/forged-1"), 405)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": event, "request": {"method": "POST", "url": "AuditEvent"}}],
    }
    assert_outcome(api.post("", json=bundle), 405)
    assert api.get("/AuditEvent/forged-1").status_code in (400, 404)


@pytest.mark.usefixtures("nothing_written")
def test_missing_or_bad_token(live_hub: LiveHub, existing_patient: dict[str, Any]) -> None:
    anonymous = httpx.Client(base_url=live_hub.fhir_url, timeout=30)
    forged = httpx.Client(
        base_url=live_hub.fhir_url, headers={"Authorization": "Bearer not.a.jwt"}, timeout=30
    )
    basic = httpx.Client(
        base_url=live_hub.fhir_url, headers={"Authorization": "Basic dXNlcjpwdw=="}, timeout=30
    )
    with anonymous, forged, basic:
        for client in (anonymous, forged, basic):
            for response in (
                client.get("/Patient"),
                client.get(f"/Patient/{existing_patient['id']}"),
                client.post("/Patient", json=_patient()),
                client.post("", json={"resourceType": "Bundle", "type": "batch"}),
            ):
                assert_outcome(response, 401)
                assert response.headers["www-authenticate"].lower().startswith("bearer")


@pytest.mark.usefixtures("nothing_written")
def test_read_only_scope_cannot_write(
    client_for: Callable[..., httpx.Client], existing_patient: dict[str, Any]
) -> None:
    reader = client_for(scope="system/*.rs")
    assert reader.get(f"/Patient/{existing_patient['id']}").status_code == 200
    assert_outcome(reader.post("/Patient", json=_patient()), 403)
    pid = existing_patient["id"]
    assert_outcome(reader.put(f"/Patient/{pid}", json={**existing_patient, "gender": "male"}), 403)
    assert_outcome(reader.delete(f"/Patient/{pid}"), 403)
