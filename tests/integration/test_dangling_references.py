"""No dangling local references on write, on every FHIR write path of the running hub.

A reference to a resource of this server that does not exist is refused with 400 and an
OperationOutcome naming the element path (single create and update, batch entry, transaction);
a transaction's own entries count as existing; contained, external and logical references are
not checked. The check is for existence, never visibility: a reference to another facility's
Patient hidden by consent is accepted exactly like a visible one (no oracle). Facilities in
``HUB_ALLOW_DANGLING_REFERENCES`` may write them.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.fhir.systems import facility_patient_system
from tests.integration.test_consent_records import actor, consent
from tests.live import LiveHub, TokenFactory, running_hub, tokens_for

ClientFactory = Callable[..., httpx.Client]
MISSING = "Patient/does-not-exist"


def _patient(mrn: str | None = None, facility: str = "H001") -> dict[str, Any]:
    mrn = mrn or f"REF-{uuid.uuid4().hex[:10]}"
    # a resident of its own (drawn from the MRN): consent follows the person through the index
    rng = random.Random(mrn)
    return {
        "resourceType": "Patient",
        "identifier": [{"system": facility_patient_system(facility), "value": mrn}],
        "name": [{"family": f"周{mrn[-4:]}", "given": [rng.choice("华伟芳丽强军洋勇艳杰")]}],
        "gender": "male",
        "birthDate": f"{rng.randint(1930, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    }


def _observation(subject: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": subject,
        "valueQuantity": {"value": 64, "unit": "/min"},
    }


def _bundle(kind: str, *entries: tuple[dict[str, Any], str, str]) -> dict[str, Any]:
    """A batch or transaction of (resource, method, url) entries; a resource's ``_fullUrl``
    becomes its entry's fullUrl."""
    listed = []
    for resource, method, url in entries:
        body = {k: v for k, v in resource.items() if k != "_fullUrl"}
        entry = {"resource": body, "request": {"method": method, "url": url}}
        if "_fullUrl" in resource:
            entry["fullUrl"] = resource["_fullUrl"]
        listed.append(entry)
    return {"resourceType": "Bundle", "type": kind, "entry": listed}


def _created(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    resource_id: str = response.json()["id"]
    return resource_id


def _refused_as_dangling(response: httpx.Response, path: str, target: str) -> None:
    assert response.status_code == 400, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert issue["expression"] == [path]
    assert target in issue["diagnostics"] and "does not exist" in issue["diagnostics"]


def _count(api: httpx.Client, resource_type: str, **params: str) -> int:
    response = api.get(f"/{resource_type}", params={**params, "_summary": "count"})
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


def test_create_and_update_refuse_a_reference_to_a_missing_resource(api: httpx.Client) -> None:
    created = api.post("/Observation", json=_observation({"reference": MISSING}))
    _refused_as_dangling(created, "Observation.subject", MISSING)
    patient = _created(api.post("/Patient", json=_patient()))
    observation = _observation({"reference": f"Patient/{patient}"})
    observation["performer"] = [{"display": "护士"}, {"reference": "Practitioner/nobody"}]
    refused = api.post("/Observation", json=observation)
    _refused_as_dangling(refused, "Observation.performer[1]", "Practitioner/nobody")
    del observation["performer"]
    observation_id = _created(api.post("/Observation", json=observation))
    changed = dict(observation, id=observation_id, subject={"reference": MISSING})
    _refused_as_dangling(
        api.put(f"/Observation/{observation_id}", json=changed), "Observation.subject", MISSING
    )
    put_new = dict(_observation({"reference": MISSING}), id=f"obs-{uuid.uuid4().hex[:12]}")
    _refused_as_dangling(
        api.put(f"/Observation/{put_new['id']}", json=put_new), "Observation.subject", MISSING
    )
    assert api.get(f"/Observation/{put_new['id']}").status_code == 404
    kept = api.get(f"/Observation/{observation_id}").json()
    assert kept["subject"]["reference"] == f"Patient/{patient}"


def test_a_reference_to_a_deleted_resource_is_refused(api: httpx.Client) -> None:
    patient = _created(api.post("/Patient", json=_patient()))
    assert api.delete(f"/Patient/{patient}").status_code in (200, 204)
    response = api.post("/Observation", json=_observation({"reference": f"Patient/{patient}"}))
    _refused_as_dangling(response, "Observation.subject", f"Patient/{patient}")


def test_absolute_urls_under_the_hub_are_checked_and_others_are_not(
    api: httpx.Client, live_hub: LiveHub
) -> None:
    patient = _created(api.post("/Patient", json=_patient()))
    here = f"{live_hub.fhir_url}/Patient/{patient}"
    _created(api.post("/Observation", json=_observation({"reference": here})))
    missing_here = f"{live_hub.fhir_url}/{MISSING}"
    response = api.post("/Observation", json=_observation({"reference": missing_here}))
    _refused_as_dangling(response, "Observation.subject", MISSING)
    elsewhere = {"reference": "https://fhir.other-region.example/fhir/Patient/123"}
    _created(api.post("/Observation", json=_observation(elsewhere)))
    logical = {"identifier": {"system": facility_patient_system("H001"), "value": "NOT-HELD"}}
    _created(api.post("/Observation", json=_observation(logical)))
    contained = _observation({"reference": f"Patient/{patient}"})
    contained["contained"] = [
        {"resourceType": "Practitioner", "id": "p1", "name": [{"text": "李"}]}
    ]
    contained["performer"] = [{"reference": "#p1"}]
    _created(api.post("/Observation", json=contained))


def test_a_transaction_with_a_dangling_reference_commits_nothing(api: httpx.Client) -> None:
    mrn = f"REF-{uuid.uuid4().hex[:10]}"
    bundle = _bundle(
        "transaction",
        (_patient(mrn), "POST", "Patient"),
        (_observation({"reference": MISSING}), "POST", "Observation"),
    )
    response = api.post("", json=bundle)
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Observation.subject"]
    assert MISSING in issue["diagnostics"]
    assert _count(api, "Patient", identifier=f"{facility_patient_system('H001')}|{mrn}") == 0


def test_a_transactions_own_entries_count_as_existing(api: httpx.Client) -> None:
    """urn:uuid targets, and a PUT to a new id referenced by a POST that runs before it."""
    mrn, later = f"REF-{uuid.uuid4().hex[:10]}", f"pat-{uuid.uuid4().hex[:12]}"
    patient_url = f"urn:uuid:{uuid.uuid4()}"
    bundle = _bundle(
        "transaction",
        (_observation({"reference": patient_url}), "POST", "Observation"),
        (dict(_patient(mrn), _fullUrl=patient_url), "POST", "Patient"),
        (_observation({"reference": f"Patient/{later}"}), "POST", "Observation"),
        (dict(_patient(), id=later), "PUT", f"Patient/{later}"),
    )
    response = api.post("", json=bundle)
    assert response.status_code == 200, response.text
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses == ["201 Created"] * 4
    assert _count(api, "Observation", subject=f"Patient/{later}") == 1


def test_a_batch_refuses_only_the_dangling_entry(api: httpx.Client) -> None:
    patient = _created(api.post("/Patient", json=_patient()))
    bundle = _bundle(
        "batch",
        (_observation({"reference": MISSING}), "POST", "Observation"),
        (_observation({"reference": f"Patient/{patient}"}), "POST", "Observation"),
    )
    response = api.post("", json=bundle)
    assert response.status_code == 200, response.text
    refused, written = (e["response"] for e in response.json()["entry"])
    assert refused["status"].startswith("400")
    assert refused["outcome"]["issue"][0]["expression"] == ["Observation.subject"]
    assert written["status"] == "201 Created"
    assert _count(api, "Observation", subject=f"Patient/{patient}") == 1


def test_a_hidden_patient_is_answered_like_an_existing_one_never_as_missing(
    api: httpx.Client, client_for: ClientFactory
) -> None:
    """Attack: H002 probes ids it may not read. A reference to a Patient that consent hides from
    it must be accepted exactly as one to a Patient it may read; only a Patient that does not
    exist is refused, so a write tells it nothing a read would not."""
    hidden = _created(api.post("/Patient", json=_patient()))
    visible = _created(api.post("/Patient", json=_patient()))
    deny = consent(hidden, {"type": "deny", "actor": [actor("Organization/H002")]})
    _created(api.post("/Consent", json=deny))
    h002 = client_for(facility="H002", client_id="h002-prober", purpose="TREAT")
    assert h002.get(f"/Patient/{hidden}").status_code == 404  # hidden from H002
    assert h002.get(f"/Patient/{visible}").status_code == 200

    answers = {}
    for name, target in (("hidden", hidden), ("visible", visible)):
        response = h002.post("/Observation", json=_observation({"reference": f"Patient/{target}"}))
        answers[name] = response.status_code
        assert response.status_code == 201, response.text
        assert "does not exist" not in response.text
    missing = h002.post("/Observation", json=_observation({"reference": f"Patient/{uuid.uuid4()}"}))
    assert answers == {"hidden": 201, "visible": 201} and missing.status_code == 400
    batch = _bundle(
        "batch", (_observation({"reference": f"Patient/{hidden}"}), "POST", "Observation")
    )
    (entry,) = h002.post("", json=batch).json()["entry"]
    assert entry["response"]["status"] == "201 Created"


@pytest.fixture(scope="module")
def lenient_hub(database: str, run_dir: Path) -> Iterator[tuple[LiveHub, TokenFactory]]:
    """A second hub whose H009 (an out-of-order feed) may reference what does not exist yet,
    and tokens for it (its own port, so its own issuer)."""
    env = dict(os.environ) | {"HUB_ALLOW_DANGLING_REFERENCES": "H009"}
    with running_hub(env, run_dir / "server-lenient.log") as hub:
        yield hub, tokens_for(hub)


def test_a_facility_allowed_dangling_references_may_write_them(
    lenient_hub: tuple[LiveHub, TokenFactory],
) -> None:
    hub, make_token = lenient_hub

    def client(facility: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {make_token(facility=facility)}"}
        return httpx.Client(base_url=hub.fhir_url, headers=headers, timeout=30)

    later = f"late-{uuid.uuid4().hex[:12]}"
    with client("H009") as h009, client("H001") as h001:
        early = h009.post("/Observation", json=_observation({"reference": f"Patient/{later}"}))
        assert early.status_code == 201, early.text
        strict = h001.post("/Observation", json=_observation({"reference": f"Patient/{later}"}))
        _refused_as_dangling(strict, "Observation.subject", f"Patient/{later}")
        # the Patient arrives later; the early reference then resolves
        put = h009.put(f"/Patient/{later}", json=dict(_patient(facility="H009"), id=later))
        assert put.status_code == 201, put.text
        observation = h009.get(f"/Observation/{early.json()['id']}").json()
        assert h009.get(f"/{observation['subject']['reference']}").status_code == 200
