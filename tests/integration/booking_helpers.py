"""Slots, patients and booking calls for the booking tests (over HTTP, as an app would)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from referral.scheduling.resources import CAPACITY_EXTENSION, REFERRAL_RESERVED_EXTENSION


def new_slot(
    api: httpx.Client, *, capacity: int, reserved: int = 0, hours_ahead: float = 24
) -> str:
    if api.get("/Location/H001-loc").status_code == 404:  # a hub without the region registry
        location = {"resourceType": "Location", "id": "H001-loc", "name": "H001"}
        assert api.put("/Location/H001-loc", json=location).status_code in (200, 201)
    schedule = f"sch-t-{uuid.uuid4().hex[:12]}"
    created = api.put(
        f"/Schedule/{schedule}",
        json={
            "resourceType": "Schedule",
            "id": schedule,
            "actor": [{"reference": "Location/H001-loc"}],
        },
    )
    assert created.status_code in (200, 201), created.text
    start = datetime.now(UTC) + timedelta(hours=hours_ahead)
    slot = {
        "resourceType": "Slot",
        "extension": [
            {"url": CAPACITY_EXTENSION, "valuePositiveInt": capacity},
            {"url": REFERRAL_RESERVED_EXTENSION, "valueUnsignedInt": reserved},
        ],
        "schedule": {"reference": f"Schedule/{schedule}"},
        "status": "free",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=30)).isoformat(),
    }
    response = api.post("/Slot", json=slot)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def new_patient(api: httpx.Client) -> str:
    tag = uuid.uuid4().hex[:10]
    rng = random.Random(tag)  # distinct people: the patient index must not link them as one
    family = rng.choice("赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜")
    given = "".join(rng.choice("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英") for _ in range(2))
    born = f"{rng.randint(1940, 2010)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    response = api.post(
        "/Patient",
        json={
            "resourceType": "Patient",
            "name": [{"family": family, "given": [given]}],
            "gender": rng.choice(["female", "male"]),
            "birthDate": born,
            "identifier": [{"system": "urn:test:booking", "value": tag}],
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def appointment(
    slot: str, patient: str, *, status: str = "booked", key: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Appointment",
        "status": status,
        "slot": [{"reference": f"Slot/{slot}"}],
        "participant": [{"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"}],
    }
    if key is not None:
        body["identifier"] = [{"system": "urn:test:booking-request", "value": key}]
    return body


def parameters(**named: Any) -> dict[str, Any]:
    entries = []
    for name, value in named.items():
        key = "resource" if name.endswith("resource") else "valueReference"
        entries.append({"name": name.replace("_", "-"), key: value})
    return {"resourceType": "Parameters", "parameter": entries}


def refusal(response: httpx.Response) -> str:
    issue = response.json()["issue"][0]
    return str(issue.get("details", {}).get("coding", [{}])[0].get("code", issue["code"]))
