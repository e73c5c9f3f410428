"""Stewardship of the patient index on a live hub: automatic links, the review queue, manual
links, merges and their undo, splits, who may do it, and the audit trail it leaves.

Patients are registered through the FHIR API by facility systems; each carries its facility's
local patient number, which is the source id the index knows it by. Names and birth dates are
random per test so records of other tests never become candidates.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest

from hub.auth.roles import Role
from hub.fhir.systems import RESIDENT_ID_SYSTEM, facility_patient_system
from hub.mpi.matching.identifiers import make_resident_id
from tests.live import LiveHub, TokenFactory

ClientFactory = Callable[..., httpx.Client]
FAMILIES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华玉萍红玲燕春菊凤洁梅琳云雪荣"
HOME = "湖北省宜昌市夷陵区鸦鹊岭镇"
ELSEWHERE = "湖北省宜昌市西陵区"


@dataclass
class Someone:
    """One real-world person, as facilities would register them."""

    rng: random.Random = field(default_factory=lambda: random.Random(uuid.uuid4().int))
    family: str = ""
    given: str = ""
    birth: date = date(1970, 1, 1)
    sex: str = "male"

    def __post_init__(self) -> None:
        self.family = self.rng.choice(FAMILIES)
        self.given = "".join(self.rng.choice(GIVEN) for _ in range(2))
        self.birth = date(self.rng.randint(1935, 2005), self.rng.randint(1, 12),
                          self.rng.randint(1, 28))  # fmt: skip
        self.sex = self.rng.choice(("male", "female"))

    def resident_id(self) -> str:
        return make_resident_id("420502", self.birth, self.rng.randint(0, 999), self.sex)

    def patient(
        self,
        facility: str,
        *,
        resident_id: str | None = None,
        phone: str | None = None,
        address: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        source_id = f"MRN-{uuid.uuid4().hex[:10]}"
        identifiers = [{"system": facility_patient_system(facility), "value": source_id}]
        if resident_id:
            identifiers.append({"system": RESIDENT_ID_SYSTEM, "value": resident_id})
        body: dict[str, Any] = {
            "resourceType": "Patient",
            "identifier": identifiers,
            "name": [{"family": self.family, "given": [self.given]}],
            "gender": self.sex,
            "birthDate": self.birth.isoformat(),
        }
        if phone:
            body["telecom"] = [{"system": "phone", "value": phone}]
        if address:
            body["address"] = [{"use": "home", "text": address}]
        return source_id, body


@dataclass(frozen=True)
class Source:
    facility: str
    source_id: str
    patient_id: str

    def ref(self) -> dict[str, str]:
        return {"facility": self.facility, "source_id": self.source_id}


def _client(live_hub: LiveHub, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=f"{live_hub.base_url}/mpi", headers=headers, timeout=30)


@pytest.fixture(scope="module")
def steward(live_hub: LiveHub, make_token: TokenFactory) -> Iterator[httpx.Client]:
    with _client(live_hub, make_token(role=Role.operator, facility="HUB", client_id="mpi-desk"))\
            as client:  # fmt: skip
        yield client


@pytest.fixture(scope="module")
def auditor(live_hub: LiveHub, make_token: TokenFactory) -> Iterator[httpx.Client]:
    with _client(live_hub, make_token(role=Role.auditor, client_id="audit-office")) as client:
        yield client


@pytest.fixture
def register(client_for: ClientFactory) -> Callable[..., Source]:
    facilities: dict[str, httpx.Client] = {}

    def run(person: Someone, facility: str, **details: str | None) -> Source:
        if facility not in facilities:
            facilities[facility] = client_for(role=Role.facility_system, facility=facility)
        source_id, body = person.patient(facility, **details)
        response = facilities[facility].post("/Patient", json=body)
        assert response.status_code == 201, response.text
        return Source(facility, source_id, response.json()["id"])

    return run


def link_of(client: httpx.Client, source: Source) -> dict[str, Any]:
    response = client.get("/links", params=source.ref())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def eid(client: httpx.Client, source: Source) -> str:
    return str(link_of(client, source)["enterprise_id"])


def links(client: httpx.Client, enterprise_id: str) -> dict[str, Any]:
    response = client.get(f"/persons/{enterprise_id}/links")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def source_ids(person_links: dict[str, Any]) -> set[str]:
    return {s["source_id"] for s in person_links["sources"]}


def review_of(client: httpx.Client, source: Source, status: str = "all") -> dict[str, Any]:
    offset = 0
    while True:
        page = client.get("/reviews", params={"status": status, "limit": 200, "offset": offset})
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        for item in items:
            if item["source_id"] == source.source_id and item["facility"] == source.facility:
                return dict(item)
        if not items:
            raise AssertionError("no review item for the source")
        offset += len(items)


def review_case(steward: httpx.Client, register: Callable[..., Source]) -> tuple[Source, Source]:
    """Two registrations the model is unsure about: same name and birth date, no resident ID,
    different phone and address. Which decision a pair gets depends on the name's frequency, so
    try a few people until one lands in the review queue."""
    for _ in range(10):
        person = Someone()
        first = register(person, "H001", phone="13900001111", address=HOME)
        second = register(person, "CS0001", phone="13700002222", address=ELSEWHERE)
        if link_of(steward, second)["state"] == "review":
            return first, second
    raise AssertionError("no registration landed in the review queue")


def test_auto_link_same_resident_and_new_person_for_another(
    steward: httpx.Client, register: Callable[..., Source]
) -> None:
    person, other = Someone(), Someone()
    resident_id = person.resident_id()
    hospital = register(person, "H001", resident_id=resident_id)
    station = register(person, "CS0001", resident_id=resident_id, phone="13812345678")
    stranger = register(other, "H001", resident_id=other.resident_id())

    assert link_of(steward, hospital)["state"] == "new"
    assert link_of(steward, station)["state"] == "auto"
    assert eid(steward, hospital) == eid(steward, station)
    assert eid(steward, stranger) != eid(steward, hospital)
    view = links(steward, eid(steward, hospital))
    assert source_ids(view) == {hospital.source_id, station.source_id}
    assert [e["action"] for e in view["history"]] == ["new", "link"]


def test_review_claim_and_resolve_as_match(
    steward: httpx.Client,
    register: Callable[..., Source],
    live_hub: LiveHub,
    make_token: TokenFactory,
) -> None:
    first, second = review_case(steward, register)
    item = review_of(steward, second, "open")
    assert item["candidate_enterprise_id"] == eid(steward, first)
    assert item["enterprise_id"] == eid(steward, second) != eid(steward, first)
    assert 0 < item["probability"] < 1
    old_eid = item["enterprise_id"]

    claimed = steward.post(f"/reviews/{item['id']}/claim")
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["status"] == "claimed"
    assert claimed.json()["claimed_by"] == "mpi-desk@HUB"
    assert steward.post(f"/reviews/{item['id']}/claim").status_code == 200  # holder: idempotent

    token = make_token(role=Role.operator, facility="HUB", client_id="other-desk")
    with _client(live_hub, token) as other:
        assert other.post(f"/reviews/{item['id']}/claim").status_code == 409
        taken = other.post(f"/reviews/{item['id']}/resolve",
                           json={"resolution": "match", "reason": "same person"})  # fmt: skip
        assert taken.status_code == 409
        assert taken.json()["resourceType"] == "OperationOutcome"

    resolved = steward.post(
        f"/reviews/{item['id']}/resolve",
        json={"resolution": "match", "reason": "same phone on the paper chart"},
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolution"] == "match"
    assert eid(steward, second) == eid(steward, first)
    assert link_of(steward, second)["state"] == "manual"

    # The emptied person is retired; its enterprise id resolves to the survivor.
    retired = links(steward, old_eid)
    assert retired["enterprise_id"] == eid(steward, first)
    assert retired["requested_id"] == old_eid
    history = links(steward, eid(steward, first))["history"]
    last = history[-1]
    assert last["action"] == "link" and last["source_id"] == second.source_id
    assert last["from_enterprise_id"] == old_eid
    assert last["to_enterprise_id"] == eid(steward, first)
    assert "same phone on the paper chart" in last["reason"]
    assert last["actor"] == "mpi-desk@HUB"

    again = steward.post(f"/reviews/{item['id']}/resolve",
                         json={"resolution": "no-match", "reason": "changed my mind"})  # fmt: skip
    assert again.status_code == 409


def test_review_resolved_as_no_match_keeps_persons_apart(
    steward: httpx.Client, register: Callable[..., Source]
) -> None:
    first, second = review_case(steward, register)
    item = review_of(steward, second, "open")
    resolved = steward.post(
        f"/reviews/{item['id']}/resolve",
        json={"resolution": "no-match", "reason": "different mothers' names"},
    )  # unclaimed items may be resolved directly
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["resolution"] == "no-match"
    assert eid(steward, second) != eid(steward, first)
    assert links(steward, eid(steward, second))["history"][-1]["action"] == "no-match"
    assert review_of(steward, second, "resolved")["id"] == item["id"]


def test_manual_link_and_unlink(steward: httpx.Client, register: Callable[..., Source]) -> None:
    a, b = Someone(), Someone()
    x = register(a, "H001", resident_id=a.resident_id())
    y = register(b, "CS0001", resident_id=b.resident_id())
    x_eid, y_eid = eid(steward, x), eid(steward, y)
    assert x_eid != y_eid

    # two different valid resident IDs are two people: the steward must say otherwise
    refused = steward.post("/links", json={**y.ref(), "enterprise_id": x_eid,
                                           "reason": "registration desk confirmed"})  # fmt: skip
    assert refused.status_code == 409, refused.text
    assert "override_conflicting_ids" in refused.text
    linked = steward.post("/links", json={**y.ref(), "enterprise_id": x_eid,
                                          "reason": "registration desk confirmed",
                                          "override_conflicting_ids": True})  # fmt: skip
    assert linked.status_code == 200, linked.text
    assert linked.json()["enterprise_id"] == x_eid
    assert link_of(steward, y)["state"] == "manual"
    assert source_ids(links(steward, x_eid)) == {x.source_id, y.source_id}
    assert links(steward, y_eid)["enterprise_id"] == x_eid  # y's old person retired into x

    unlinked = steward.request("DELETE", "/links", json={**y.ref(), "reason": "linked in error"})
    assert unlinked.status_code == 200, unlinked.text
    new_eid = unlinked.json()["enterprise_id"]
    assert new_eid not in (x_eid, y_eid)
    assert eid(steward, y) == new_eid
    assert source_ids(links(steward, x_eid)) == {x.source_id}
    actions = [(e["action"], e["reason"]) for e in links(steward, new_eid)["history"]]
    assert ("link", "registration desk confirmed") in actions
    assert ("unlink", "linked in error") in actions

    alone = steward.post("/unlink", json={**y.ref(), "reason": "again"})
    assert alone.status_code == 409
    missing = steward.post("/unlink", json={"facility": "H001", "source_id": "nope", "reason": "x"})
    assert missing.status_code == 404


def test_merge_then_undo_restores_both_persons(
    steward: httpx.Client, register: Callable[..., Source]
) -> None:
    a, b = Someone(), Someone()
    resident_id = a.resident_id()
    x1 = register(a, "H001", resident_id=resident_id)
    x2 = register(a, "CS0001", resident_id=resident_id)
    y = register(b, "PH001", resident_id=b.resident_id())
    x_eid, y_eid = eid(steward, x1), eid(steward, y)

    refused = steward.post("/merges", json={"from": y_eid, "into": x_eid, "reason": "dup"})
    assert refused.status_code == 409, refused.text  # different valid IDs: override needed
    merged = steward.post("/merges", json={"from": y_eid, "into": x_eid,
                                           "reason": "duplicate found in audit",
                                           "override_conflicting_ids": True})  # fmt: skip
    assert merged.status_code == 200, merged.text
    merge_id = merged.json()["merge_id"]
    assert merged.json()["moved"] == 1
    assert source_ids(links(steward, x_eid)) == {x1.source_id, x2.source_id, y.source_id}
    via_old = links(steward, y_eid)
    assert via_old["enterprise_id"] == x_eid and via_old["requested_id"] == y_eid
    assert eid(steward, y) == x_eid
    again = steward.post("/merges", json={"from": y_eid, "into": x_eid, "reason": "again"})
    assert again.status_code == 409

    undone = steward.post(f"/merges/{merge_id}/undo", json={"reason": "wrong twin"})
    assert undone.status_code == 200, undone.text
    assert source_ids(links(steward, x_eid)) == {x1.source_id, x2.source_id}
    restored = links(steward, y_eid)
    assert restored["enterprise_id"] == y_eid and restored["status"] == "active"
    assert source_ids(restored) == {y.source_id}
    actions = [e["action"] for e in restored["history"]]
    assert actions.count("merge") == 2 and actions.count("unmerge") == 2  # person + source rows
    assert steward.post(f"/merges/{merge_id}/undo", json={"reason": "x"}).status_code == 409
    assert steward.post("/merges/999999999/undo", json={"reason": "x"}).status_code == 404


def test_undo_refused_after_a_later_change(
    steward: httpx.Client, register: Callable[..., Source]
) -> None:
    a, b = Someone(), Someone()
    x = register(a, "H001", resident_id=a.resident_id())
    resident_id = b.resident_id()
    y1 = register(b, "H002", resident_id=resident_id)
    register(b, "CS0001", resident_id=resident_id)
    merged = steward.post("/merges", json={"from": eid(steward, y1), "into": eid(steward, x),
                                           "reason": "same person",
                                           "override_conflicting_ids": True})  # fmt: skip
    assert merged.status_code == 200, merged.text
    assert steward.post("/unlink", json={**y1.ref(), "reason": "one was right"}).status_code == 200
    refused = steward.post(f"/merges/{merged.json()['merge_id']}/undo", json={"reason": "undo"})
    assert refused.status_code == 409
    assert refused.json()["resourceType"] == "OperationOutcome"


def test_split_moves_sources_to_one_new_person(
    steward: httpx.Client, register: Callable[..., Source]
) -> None:
    a, b = Someone(), Someone()
    resident_id = a.resident_id()
    s1 = register(a, "H001", resident_id=resident_id)
    s2 = register(a, "CS0001", resident_id=resident_id)
    s3 = register(a, "PH001", resident_id=resident_id)
    stranger = register(b, "H002", resident_id=b.resident_id())
    person = eid(steward, s1)
    assert {eid(steward, s) for s in (s2, s3)} == {person}

    everything = [s.ref() for s in (s1, s2, s3)]
    refused = steward.post("/splits", json={"enterprise_id": person, "sources": everything,
                                            "reason": "all of them"})  # fmt: skip
    assert refused.status_code == 400
    foreign = steward.post("/splits", json={"enterprise_id": person, "reason": "not theirs",
                                            "sources": [stranger.ref()]})  # fmt: skip
    assert foreign.status_code == 400

    split = steward.post("/splits", json={"enterprise_id": person, "reason": "two people",
                                          "sources": [s2.ref(), s3.ref()]})  # fmt: skip
    assert split.status_code == 200, split.text
    new = split.json()["enterprise_id"]
    assert new != person
    assert source_ids(links(steward, person)) == {s1.source_id}
    assert source_ids(links(steward, new)) == {s2.source_id, s3.source_id}
    assert {e["action"] for e in links(steward, new)["history"]} >= {"split"}


def test_only_operators_steward(
    live_hub: LiveHub, make_token: TokenFactory, auditor: httpx.Client
) -> None:
    merge = {"from": "YCX", "into": "YCY", "reason": "x"}
    for role in (Role.facility_system, Role.practitioner):
        with _client(live_hub, make_token(role=role)) as client:
            assert client.get("/reviews").status_code == 403
            refused = client.post("/merges", json=merge)
            assert refused.status_code == 403
            assert refused.json()["resourceType"] == "OperationOutcome"
    assert auditor.get("/reviews").status_code == 200
    assert auditor.post("/merges", json=merge).status_code == 403
    assert auditor.post("/reviews/1/claim").status_code == 403
    with httpx.Client(base_url=f"{live_hub.base_url}/mpi") as anonymous:
        assert anonymous.get("/reviews").status_code == 401


def test_reason_is_required(steward: httpx.Client, register: Callable[..., Source]) -> None:
    a, b = Someone(), Someone()
    x = register(a, "H001", resident_id=a.resident_id())
    y = register(b, "H002", resident_id=b.resident_id())
    missing = steward.post("/links", json={**y.ref(), "enterprise_id": eid(steward, x)})
    assert missing.status_code == 400
    assert missing.json()["resourceType"] == "OperationOutcome"
    blank = steward.post("/merges", json={"from": eid(steward, y), "into": eid(steward, x),
                                          "reason": "   "})  # fmt: skip
    assert blank.status_code == 400
    assert eid(steward, y) != eid(steward, x)
    assert steward.get("/persons/YCNOSUCHPERSON/links").status_code == 404
    assert steward.post("/reviews/999999999/claim").status_code == 404


def test_changes_are_audited(
    steward: httpx.Client, register: Callable[..., Source], live_hub: LiveHub,
    make_token: TokenFactory,
) -> None:  # fmt: skip
    a, b = Someone(), Someone()
    x = register(a, "H001", resident_id=a.resident_id())
    y = register(b, "CS0001", resident_id=b.resident_id())
    linked = steward.post("/links", json={**y.ref(), "enterprise_id": eid(steward, x),
                                          "reason": "audited",
                                          "override_conflicting_ids": True})  # fmt: skip
    assert linked.status_code == 200, linked.text
    token = make_token(role=Role.auditor, client_id="audit-office")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=live_hub.fhir_url, headers=headers, timeout=30) as fhir:
        response = fhir.get("/AuditEvent", params={"subtype": "operation",
                                                   "patient": y.patient_id})  # fmt: skip
    assert response.status_code == 200, response.text
    events = [e["resource"] for e in response.json().get("entry", [])]
    changes = [e for e in events if e.get("outcomeDesc") == "mpi link"]
    assert len(changes) == 1
    event = changes[0]
    assert event["agent"][0]["who"]["identifier"]["value"] == "mpi-desk"
    refs = {e["what"]["reference"] for e in event["entity"]}
    assert {f"Patient/{x.patient_id}", f"Patient/{y.patient_id}"} <= refs
