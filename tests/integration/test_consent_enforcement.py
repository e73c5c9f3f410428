"""Consent enforcement on every read path of the running hub (the issue's list, one test each).

The world: facility H001 records a patient's data; facility H002 asks for it for treatment.
``opted_out`` has a Consent denying H002 everything; ``open_`` has none (regional default:
shared for TREAT, sensitive classes only with an opt-in). Each path is asked as H002 and must
withhold what is ``opted_out``'s without revealing it (totals, includes, the patient index),
while the recording facility, the patient and operators keep their access.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from adapters.outbound import outbox_queue
from adapters.outbound.models import OutboxRow
from consent.sensitivity import ACT_CODE_SYSTEM
from hub.audit.models import AuditRecord
from hub.auth.purpose import ACT_REASON_SYSTEM
from hub.auth.roles import Role
from hub.db import session_scope
from hub.fhir.systems import facility_patient_system
from hub.security.fields import get_cipher
from tests.integration.test_consent_records import actor, consent

ClientFactory = Callable[..., httpx.Client]
ICD10 = "http://hl7.org/fhir/sid/icd-10"
H002 = "Organization/H002"
GIVEN = "华伟芳丽强军洋勇艳杰娟涛超兰霞平刚玉萍红玲燕"


def _create(client: httpx.Client, resource: dict[str, Any]) -> str:
    response = client.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    resource_id: str = response.json()["id"]
    return resource_id


def _demographics(mrn: str) -> tuple[str, str]:
    """(birth date, given name) of the resident with this MRN: drawn from it, so each test's
    patients are residents of their own (consent follows the person through the index)."""
    rng = random.Random(mrn)
    birth = f"{rng.randint(1930, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return birth, rng.choice(GIVEN)


def _patient(client: httpx.Client, mrn: str) -> str:
    birth, given = _demographics(mrn)
    return _create(
        client,
        {
            "resourceType": "Patient",
            "identifier": [{"system": facility_patient_system("H001"), "value": mrn}],
            "name": [{"family": f"欧阳{mrn[-4:]}", "given": [given]}],
            "gender": "female",
            "birthDate": birth,
        },
    )


def _observation(patient: str, code: str = "8867-4") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": f"Patient/{patient}"},
        "valueQuantity": {"value": 72, "unit": "/min"},
    }


def _condition(patient: str, icd: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "code": {"coding": [{"system": ICD10, "code": icd}]},
        "subject": {"reference": f"Patient/{patient}"},
    }


def _consent(patient: str, provision: dict[str, Any]) -> dict[str, Any]:
    return consent(patient, provision)


@dataclass
class World:
    opted_out: str
    open_: str
    mrn: str
    observations: dict[str, str]  # patient id -> Observation id
    hiv: str  # Condition (HIV) of open_
    encounter: str  # Encounter of open_ with a psychiatric reason
    consent: str


@pytest.fixture
def world(api: httpx.Client) -> World:
    mrn = f"MRN-{uuid.uuid4().hex[:10]}"
    # residents of their own (birth date and given name drawn from the MRN): consent follows
    # the person, so the patients of other tests' worlds must not look like these
    opted_out = _patient(api, mrn)
    open_ = _patient(api, f"MRN-{uuid.uuid4().hex[:10]}")
    observations = {p: _create(api, _observation(p)) for p in (opted_out, open_)}
    hiv = _create(api, _condition(open_, "B20"))
    encounter = _create(
        api,
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": f"Patient/{open_}"},
            "reasonCode": [{"coding": [{"system": ICD10, "code": "F32.1"}]}],
        },
    )
    consent = _create(api, _consent(opted_out, {"type": "deny", "actor": [actor(H002)]}))
    return World(opted_out, open_, mrn, observations, hiv, encounter, consent)


@pytest.fixture
def h002(client_for: ClientFactory) -> httpx.Client:
    return client_for(facility="H002", client_id="h002-his", purpose="TREAT")


def _ids(bundle: httpx.Response) -> set[str]:
    assert bundle.status_code == 200, bundle.text
    return {e["resource"]["id"] for e in bundle.json().get("entry", [])}


def _refused(response: httpx.Response) -> None:
    """Refused by consent: answered exactly like an id that does not exist (no enumeration)."""
    assert response.status_code == 404, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "not-found"
    assert "consent" in issue["diagnostics"]


def test_read_and_vread_are_refused(world: World, h002: httpx.Client, api: httpx.Client) -> None:
    denied = world.observations[world.opted_out]
    _refused(h002.get(f"/Patient/{world.opted_out}"))
    _refused(h002.get(f"/Observation/{denied}"))
    _refused(h002.get(f"/Observation/{denied}/_history/1"))
    assert h002.get(f"/Observation/{world.observations[world.open_]}").status_code == 200
    assert api.get(f"/Observation/{denied}").status_code == 200  # H001 recorded it


def test_search_filters_in_the_query_so_totals_and_pages_leak_nothing(
    world: World, h002: httpx.Client, api: httpx.Client
) -> None:
    both = f"{world.opted_out},{world.open_}"
    params = {"subject": both, "_total": "accurate"}
    mine = h002.get("/Observation", params=params)
    assert _ids(mine) == {world.observations[world.open_]}
    assert mine.json()["total"] == 1
    assert api.get("/Observation", params=params).json()["total"] == 2
    first = h002.get("/Observation", params={**params, "_count": "1"})
    assert first.json()["total"] == 1 and "next" not in {
        link["relation"] for link in first.json()["link"]
    }
    patients = h002.get("/Patient", params={"identifier": world.mrn, "_total": "accurate"})
    assert _ids(patients) == set() and patients.json()["total"] == 0
    posted = h002.post("/Observation/_search", data={"subject": both})
    assert _ids(posted) == {world.observations[world.open_]}


def test_include_and_revinclude_leave_denied_resources_out(
    world: World, h002: httpx.Client
) -> None:
    own = _create(h002, _observation(world.opted_out, "29463-7"))  # H002 sees what it recorded
    found = h002.get("/Observation", params={"_id": own, "_include": "Observation:subject"})
    assert _ids(found) == {own}
    rev = h002.get("/Patient", params={"_id": world.open_, "_revinclude": "Observation:subject"})
    assert world.observations[world.open_] in _ids(rev)
    rev_denied = h002.get(
        "/Patient", params={"_id": world.opted_out, "_revinclude": "Observation:subject"}
    )
    assert _ids(rev_denied) == set()


def test_history_instance_and_type(world: World, h002: httpx.Client) -> None:
    denied = world.observations[world.opted_out]
    _refused(h002.get(f"/Observation/{denied}/_history"))
    history = h002.get("/Observation/_history", params={"_count": "500"})
    assert denied not in _ids(history)
    assert world.observations[world.open_] in _ids(history)


def test_bundle_entries_are_decided_one_by_one(world: World, h002: httpx.Client) -> None:
    denied = world.observations[world.opted_out]
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": f"Observation/{denied}"}},
            {"request": {"method": "GET", "url": f"Observation?subject={world.opted_out}"}},
            {"request": {"method": "GET", "url": f"Observation/{world.observations[world.open_]}"}},
        ],
    }
    response = h002.post("", json=bundle)
    assert response.status_code == 200, response.text
    refused, searched, shown = response.json()["entry"]
    assert refused["response"]["status"].startswith("404")
    assert "resource" not in refused
    assert searched["resource"]["total"] == 0
    assert shown["response"]["status"].startswith("200")


def test_everything_as_facility_patient_and_operator(
    world: World, h002: httpx.Client, api: httpx.Client, client_for: ClientFactory
) -> None:
    _refused(h002.get(f"/Patient/{world.opted_out}/$everything"))
    record = h002.get(f"/Patient/{world.open_}/$everything")
    shown = _ids(record)
    assert world.observations[world.open_] in shown and world.hiv not in shown
    encounter = next(
        e["resource"] for e in record.json()["entry"] if e["resource"]["id"] == world.encounter
    )
    assert "reasonCode" not in encounter  # the psychiatric reason is redacted
    assert {"REDACTED"} <= {s["code"] for s in encounter["meta"]["security"]}

    patient = client_for(role=Role.patient, patient=world.open_, client_id="patient-app")
    own = _ids(patient.get(f"/Patient/{world.open_}/$everything"))
    assert {world.open_, world.hiv, world.encounter} <= own
    assert patient.get(f"/Patient/{world.opted_out}/$everything").status_code == 404
    operator = client_for(role=Role.operator, facility="HUB", client_id="ops")
    assert world.observations[world.opted_out] in _ids(
        operator.get(f"/Patient/{world.opted_out}/$everything")
    )
    paged = api.get(f"/Patient/{world.open_}/$everything", params={"_count": "2"})
    assert len(paged.json()["entry"]) == 2 and paged.json()["total"] >= 4
    assert any(link["relation"] == "next" for link in paged.json()["link"])


def test_sensitive_data_needs_an_opt_in(
    world: World, h002: httpx.Client, api: httpx.Client
) -> None:
    _refused(h002.get(f"/Condition/{world.hiv}"))
    assert _ids(h002.get("/Condition", params={"subject": world.open_})) == set()
    opt_in = {
        "type": "permit",
        "actor": [actor(H002)],
        "securityLabel": [{"system": ACT_CODE_SYSTEM, "code": "HIV"}],
    }
    _create(api, _consent(world.open_, opt_in))
    assert h002.get(f"/Condition/{world.hiv}").status_code == 200
    assert _ids(h002.get("/Condition", params={"subject": world.open_})) == {world.hiv}


def test_purposes_other_than_treatment_need_a_consent(
    world: World, client_for: ClientFactory, api: httpx.Client
) -> None:
    insurer = client_for(facility="H002", client_id="h002-billing", purpose="HPAYMT")
    observation = world.observations[world.open_]
    _refused(insurer.get(f"/Observation/{observation}"))
    assert _ids(insurer.get("/Observation", params={"subject": world.open_})) == set()
    payment = {
        "type": "permit",
        "actor": [actor(H002)],
        "purpose": [{"system": ACT_REASON_SYSTEM, "code": "HPAYMT"}],
    }
    _create(api, _consent(world.open_, payment))
    assert insurer.get(f"/Observation/{observation}").status_code == 200


def test_withdrawal_takes_effect_at_once(
    world: World, h002: httpx.Client, api: httpx.Client
) -> None:
    observation = world.observations[world.open_]
    assert h002.get(f"/Observation/{observation}").status_code == 200
    withdraw = _create(api, _consent(world.open_, {"type": "deny", "actor": [actor(H002)]}))
    _refused(h002.get(f"/Observation/{observation}"))
    inactive = api.get(f"/Consent/{withdraw}").json() | {"status": "inactive"}
    assert api.put(f"/Consent/{withdraw}", json=inactive).status_code == 200
    assert h002.get(f"/Observation/{observation}").status_code == 200


def test_patient_index_reveals_no_denied_record(world: World, h002: httpx.Client) -> None:
    birth, given = _demographics(world.mrn)
    system = facility_patient_system("H001")
    pix = h002.get("/Patient/$ihe-pix", params={"sourceIdentifier": f"{system}|{world.mrn}"})
    assert pix.status_code == 404, pix.text
    match = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "resource",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": system, "value": world.mrn}],
                    "name": [{"family": f"欧阳{world.mrn[-4:]}", "given": [given]}],
                    "gender": "female",
                    "birthDate": birth,
                },
            }
        ],
    }
    matched = h002.post("/Patient/$match", json=match)
    assert matched.status_code == 200, matched.text
    # Similar residents of other tests may be offered; the opted-out record never is.
    assert world.mrn not in matched.text
    assert all(world.opted_out not in str(e) for e in matched.json().get("entry", []))
    base = str(h002.base_url).rstrip("/").removesuffix("/fhir")
    persons = httpx.get(
        f"{base}/mpi/persons",
        params={"identifier": f"{system}|{world.mrn}"},
        headers={"Authorization": h002.headers["Authorization"]},
    )
    assert persons.status_code == 200, persons.text
    assert persons.json()["total"] == 0


def test_break_glass_is_permitted_flagged_and_audited(
    world: World, client_for: ClientFactory, make_token: Callable[..., str]
) -> None:
    from hub.auth.service import get_issuer

    token, _ = get_issuer().issue(
        client_id="h002-er",
        facility="H002",
        role=Role.facility_system,
        scope="system/*.rs",
        purpose_of_use="ETREAT",
        purpose_reason="昏迷患者急诊抢救",
    )
    emergency = httpx.Client(
        base_url=str(client_for().base_url), headers={"Authorization": f"Bearer {token}"}
    )
    denied = world.observations[world.opted_out]
    with emergency:
        assert emergency.get(f"/Observation/{denied}").status_code == 200
    with session_scope() as session:
        record = (
            session.execute(
                select(AuditRecord)
                .where(AuditRecord.client_id == "h002-er", AuditRecord.interaction == "read")
                .order_by(AuditRecord.seq.desc())
            )
            .scalars()
            .first()
        )
        assert record is not None
        assert record.break_glass and record.break_glass_reason == "昏迷患者急诊抢救"
        assert f"Consent/{world.consent}" in (record.consents or "")


def test_denials_are_audited_with_the_consent(world: World, h002: httpx.Client) -> None:
    denied = world.observations[world.opted_out]
    _refused(h002.get(f"/Observation/{denied}"))
    with session_scope() as session:
        record = (
            session.execute(
                select(AuditRecord)
                .where(AuditRecord.client_id == "h002-his", AuditRecord.outcome == "4")
                .order_by(AuditRecord.seq.desc())
            )
            .scalars()
            .first()
        )
        assert record is not None and record.decision == "deny"
        assert f"Observation/{denied}" in (record.denied or "")
        assert f"Consent/{world.consent}" in (record.consents or "")


class _Recorder:
    def notify(self, destinations: Any) -> None:
        return None

    def close(self) -> None:
        return None


@pytest.fixture
def quiet_outbox(database: str) -> Iterator[None]:
    previous = outbox_queue.install(_Recorder())
    yield
    outbox_queue.install(previous)


def _write_as(facility: str, role: Role, *resources: dict[str, Any]) -> list[str]:
    """Write in this process, as the outbound tests do: the live hub's own outbox dispatcher
    then never starts (it would sweep, and deliver, the rows other tests are timing)."""
    from hub.auth.actor import Actor
    from hub.fhir.store import FhirStore
    from hub.settings import get_settings

    writer = Actor.build(client_id=f"test-{facility}", facility=facility, role=role,
                         scope="system/*.cruds", purpose_of_use="TREAT")  # fmt: skip
    with session_scope() as session:
        store = FhirStore(session, writer, get_cipher(), get_settings().fhir_base_url)
        return [
            store.update(r["resourceType"], r["id"], r)[0].resource_id
            if r.get("id")
            else store.create(r["resourceType"], r).resource_id
            for r in resources
        ]


def test_outbound_messages_and_notifications_respect_consent(
    world: World, quiet_outbox: None
) -> None:
    code = f"x-{uuid.uuid4().hex[:8]}"  # this test's own criteria: no other write matches them
    endpoint = {
        "resourceType": "Endpoint",
        "id": "H002-consent-ep",
        "status": "active",
        "connectionType": {
            "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
            "code": "hl7-fhir-rest",
        },
        "managingOrganization": {"reference": H002},
        "payloadType": [{"text": "any"}],
        "address": "http://127.0.0.1:9/H002",
    }
    _write_as("HUB", Role.operator, endpoint)
    subscription = {
        "resourceType": "Subscription",
        "status": "active",
        "reason": "检验结果",
        "criteria": f"Observation?code={code}",
        "channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/H002/notify",
                    "payload": "application/fhir+json"},
    }  # fmt: skip
    encounters = dict(subscription, criteria=f"Encounter?subject=Patient/{world.open_}")
    _write_as("H002", Role.facility_system, subscription, encounters)
    patients = (world.opted_out, world.open_)
    observations = _write_as("H001", Role.facility_system,
                             *(_observation(p, code) for p in patients))  # fmt: skip
    sent = dict(zip(patients, observations, strict=True))
    with session_scope() as session:
        sources = set(
            session.scalars(select(OutboxRow.source).where(OutboxRow.destination == "H002"))
        )
    assert any(s.startswith(f"Observation/{sent[world.open_]}/") for s in sources)
    assert not any(s.startswith(f"Observation/{sent[world.opted_out]}/") for s in sources)

    # A notification carries the resource as the subscriber may see it: redacted.
    encounter = {
        "resourceType": "Encounter",
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{world.open_}"},
        "reasonCode": [{"coding": [{"system": ICD10, "code": "F32.1"}]}],
    }
    [encounter_id] = _write_as("H001", Role.facility_system, encounter)
    with session_scope() as session:
        payload = session.scalars(
            select(OutboxRow.payload).where(
                OutboxRow.destination == "H002",
                OutboxRow.source.startswith(f"Encounter/{encounter_id}/"),
            )
        ).one()
        body = orjson.loads(get_cipher().open_bytes(payload))["body"]
    assert body["id"] == encounter_id and "reasonCode" not in body
    assert "REDACTED" in {label["code"] for label in body["meta"]["security"]}


def test_search_agrees_with_the_decision_on_every_resource(
    api: httpx.Client, h002: httpx.Client
) -> None:
    """The SQL filter and the per-resource decision must agree: whatever a search shows can be
    read, whatever can be read is found (a mix of labels, nested and data-specific consents)."""
    people = [_patient(api, f"MRN-{uuid.uuid4().hex[:10]}") for _ in range(4)]
    made: list[str] = []
    for person in people:
        made.append(_create(api, _condition(person, "J45")))  # asthma: not sensitive
        made.append(_create(api, _condition(person, "B20")))  # HIV
        made.append(_create(api, _condition(person, "F20")))  # schizophrenia: PSY
    hiv_only = {
        "type": "permit",
        "actor": [actor(H002)],
        "securityLabel": [{"system": ACT_CODE_SYSTEM, "code": "HIV"}],
    }
    _create(api, _consent(people[0], hiv_only))
    nested = {
        "type": "deny",
        "provision": [
            {
                "type": "permit",
                "actor": [actor(H002)],
                "securityLabel": [{"system": ACT_CODE_SYSTEM, "code": "PSY"}],
            }
        ],
    }
    _create(api, _consent(people[1], nested))
    one = {
        "type": "deny",
        "data": [{"meaning": "instance", "reference": {"reference": f"Condition/{made[6]}"}}],
    }
    _create(api, _consent(people[2], one))
    subjects = ",".join(people)
    found = _ids(h002.get("/Condition", params={"subject": subjects, "_count": "100"}))
    readable = {c for c in made if h002.get(f"/Condition/{c}").status_code == 200}
    assert found == readable
    assert made[0] in found and made[1] in found  # opted in to HIV
    assert made[5] in found and made[3] not in found  # nested: only the PSY permit
    assert made[6] not in found and made[9] in found  # one Condition withheld by its id


def test_a_resource_withheld_by_its_id_is_left_out_of_totals_and_pages(
    api: httpx.Client, h002: httpx.Client
) -> None:
    """A consent withholding one resource by id (provision ``data``): the query leaves it out,
    so the total counts only what is shown and a page of one is not an empty page."""
    patient = _patient(api, f"MRN-{uuid.uuid4().hex[:10]}")
    kept, withheld = (_create(api, _observation(patient)) for _ in range(2))
    one = {
        "type": "deny",
        "data": [{"meaning": "instance", "reference": {"reference": f"Observation/{withheld}"}}],
    }
    _create(api, _consent(patient, one))
    everything = h002.get("/Observation", params={"subject": patient, "_total": "accurate"})
    assert _ids(everything) == {kept}
    assert everything.json()["total"] == 1
    page = h002.get(
        "/Observation", params={"subject": patient, "_total": "accurate", "_count": "1"}
    )
    assert _ids(page) == {kept} and page.json()["total"] == 1
    assert "next" not in {link["relation"] for link in page.json()["link"]}
    # the recording facility is not bound by the consent: both are there for it
    assert (
        api.get("/Observation", params={"subject": patient, "_total": "accurate"}).json()["total"]
        == 2
    )


def test_reindex_restores_the_rows_the_consent_filter_reads(
    world: World, h002: httpx.Client
) -> None:
    """Data indexed before the origin/label rows existed: the SQL filter cannot see its labels
    (the per-row decision still withholds it); ``hub db reindex`` writes the rows again."""
    from sqlalchemy import delete

    from hub.fhir.models import ResourceRow, TokenIndex
    from hub.fhir.reindex import reindex
    from hub.fhir.search.extract import LABEL_PARAM

    with session_scope() as session:
        rid = session.execute(
            select(ResourceRow.rid).where(ResourceRow.resource_id == world.hiv)
        ).scalar_one()

    def label_rows() -> int:
        with session_scope() as session:
            return len(
                session.execute(
                    select(TokenIndex.code).where(
                        TokenIndex.rid == rid, TokenIndex.param == LABEL_PARAM
                    )
                ).all()
            )

    assert label_rows() == 1
    with session_scope() as session:
        session.execute(
            delete(TokenIndex).where(TokenIndex.rid == rid, TokenIndex.param == LABEL_PARAM)
        )
    assert label_rows() == 0
    found = h002.get("/Condition", params={"subject": world.open_, "_total": "accurate"})
    assert _ids(found) == set()  # screened out row by row, though the query counted it
    assert reindex("Condition") > 0
    assert label_rows() == 1
    found = h002.get("/Condition", params={"subject": world.open_, "_total": "accurate"})
    assert _ids(found) == set() and found.json()["total"] == 0


def test_a_search_reaching_too_many_consented_patients_leaves_their_data_out(
    world: World, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the limit no consented patient is decided one by one: all of their data stays out
    (never shown undecided), the rest of the search is answered, and the audit says so."""
    import consent.search_filter
    from hub.auth.actor import Actor
    from hub.fhir.router import do_search
    from hub.fhir.store import FhirStore
    from hub.settings import get_settings

    permit = {"type": "permit", "actor": [actor(H002)]}
    _create(api, _consent(world.open_, permit))  # open_ now has a consent too
    third = _patient(api, f"MRN-{uuid.uuid4().hex[:10]}")  # no consent
    third_obs = _create(api, _observation(third))
    monkeypatch.setattr(consent.search_filter, "MAX_CONSENTED_PATIENTS", 1)
    h002_actor = Actor.build(client_id="h002-bulk", facility="H002", role=Role.facility_system,
                             scope="system/*.rs", purpose_of_use="TREAT")  # fmt: skip
    subjects = f"{world.opted_out},{world.open_},{third}"
    with session_scope() as session:
        store = FhirStore(session, h002_actor, get_cipher(), get_settings().fhir_base_url)
        found = orjson.loads(do_search(store, "Observation", [("subject", subjects)]))
        assert {e["resource"]["id"] for e in found.get("entry", [])} == {third_obs}
        assert found["total"] == 1
    with session_scope() as session:
        record = (
            session.execute(
                select(AuditRecord)
                .where(AuditRecord.client_id == "h002-bulk")
                .order_by(AuditRecord.seq.desc())
            )
            .scalars()
            .first()
        )
        assert record is not None and record.decision == "permit-with-redaction"
