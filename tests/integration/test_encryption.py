"""Protected identifiers at rest on a live hub: resident ID numbers and phone numbers are
encrypted in stored resources and blind-indexed for search, yet served and found in plaintext."""

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

from hub.fhir.models import ResourceRow, ResourceVersionRow, StringIndex, TokenIndex
from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.mpi.matching.identifiers import make_resident_id

MRN_SYSTEM = "urn:test:mrn"


@dataclass(frozen=True)
class StoredPatient:
    id: str
    resident_id: str
    phone: str
    mrn: str


@pytest.fixture(scope="module")
def engine(database: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(os.environ["HUB_DATABASE_URL"])
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def patient(api: httpx.Client) -> StoredPatient:
    rng = random.Random()
    birth = date(rng.randint(1940, 2010), rng.randint(1, 12), rng.randint(1, 28))
    resident_id = make_resident_id("420502", birth, rng.randint(0, 999), "female")
    phone = f"139{rng.randint(0, 99_999_999):08d}"
    mrn = f"MRN{rng.randint(0, 10**9)}"
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [
            {"use": "official", "system": RESIDENT_ID_SYSTEM, "value": resident_id},
            {"system": MRN_SYSTEM, "value": mrn},
        ],
        "name": [{"family": "王", "given": ["芳"]}],
        "telecom": [
            {"system": "phone", "value": phone, "use": "mobile"},
            {"system": "email", "value": "wang.fang@example.org"},
        ],
        "gender": "female",
        "birthDate": birth.isoformat(),
    }
    created = api.post("/Patient", json=body)
    assert created.status_code == 201, created.text
    stored = StoredPatient(created.json()["id"], resident_id, phone, mrn)
    # A second version, so the history table holds more than the first write.
    updated = api.put(f"/Patient/{stored.id}", json=created.json() | {"active": True})
    assert updated.status_code == 200, updated.text
    return stored


def secrets_of(patient: StoredPatient) -> tuple[str, str]:
    return patient.resident_id, patient.phone


def test_database_holds_no_plaintext(engine: sa.Engine, patient: StoredPatient) -> None:
    with engine.connect() as conn:
        rid, current = conn.execute(
            sa.select(ResourceRow.rid, ResourceRow.content).where(
                ResourceRow.resource_type == "Patient", ResourceRow.resource_id == patient.id
            )
        ).one()
        versions = (
            conn.execute(sa.select(ResourceVersionRow.content).where(ResourceVersionRow.rid == rid))
            .scalars()
            .all()
        )
        codes = conn.execute(sa.select(TokenIndex.code).where(TokenIndex.rid == rid)).scalars()
        tokens = list(codes)
        strings = conn.execute(
            sa.select(StringIndex.value_norm, StringIndex.value_exact).where(StringIndex.rid == rid)
        ).all()
    assert len(versions) == 2
    for content in [current, *versions]:
        assert patient.mrn in content  # the row is the right one, and unprotected values stay
        assert content.count('"enc:') == 2
        for secret in secrets_of(patient):
            assert secret not in content
    assert any(code.startswith("bi:") for code in tokens)
    assert patient.mrn in tokens
    for secret in secrets_of(patient):
        assert not any(secret in code for code in tokens)
        assert not any(secret in value for row in strings for value in row)


def test_api_returns_plaintext(api: httpx.Client, patient: StoredPatient) -> None:
    for path in (f"/Patient/{patient.id}", f"/Patient/{patient.id}/_history/1"):
        body = api.get(path).json()
        identifiers = {i["system"]: i["value"] for i in body["identifier"]}
        assert identifiers[RESIDENT_ID_SYSTEM] == patient.resident_id
        assert body["telecom"][0]["value"] == patient.phone
        assert body["telecom"][1]["value"] == "wang.fang@example.org"
    history = api.get(f"/Patient/{patient.id}/_history").json()
    for entry in history["entry"]:
        assert entry["resource"]["telecom"][0]["value"] == patient.phone


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("identifier", "{system}|{resident_id}"),
        ("identifier", "{resident_id}"),
        ("phone", "{phone}"),
        ("phone", "+86 {phone_dashed}"),
        ("telecom", "{phone}"),
    ],
)
def test_search_finds_protected_values(
    api: httpx.Client, patient: StoredPatient, name: str, value: str
) -> None:
    phone_dashed = f"{patient.phone[:3]}-{patient.phone[3:7]}-{patient.phone[7:]}"
    query = value.format(
        system=RESIDENT_ID_SYSTEM,
        resident_id=patient.resident_id,
        phone=patient.phone,
        phone_dashed=phone_dashed,
    )
    found = api.get("/Patient", params={name: query})
    assert found.status_code == 200, found.text
    assert [e["resource"]["id"] for e in found.json()["entry"]] == [patient.id]


def test_conditional_create_matches_a_protected_identifier(
    api: httpx.Client, patient: StoredPatient
) -> None:
    again = api.post(
        "/Patient",
        json={
            "resourceType": "Patient",
            "identifier": [{"system": RESIDENT_ID_SYSTEM, "value": patient.resident_id}],
        },
        headers={"If-None-Exist": f"identifier={RESIDENT_ID_SYSTEM}|{patient.resident_id}"},
    )
    assert again.status_code == 200, again.text
    assert again.json()["id"] == patient.id
