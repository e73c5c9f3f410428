"""A patient's consent follows the person, not one facility's record of them.

The same resident registers at hospital H001 and at community station CS0001 (same resident ID:
the patient index links both records to one person). The patient opts out of H002 with a
Consent recorded at H001 against H001's record. H002 must then see nothing of the person on any
path -- the station's record and what the station recorded included -- and every attempt must
appear in the patient's access log; after a steward unlinks the records, the station's record
is no longer covered.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx

from hub.auth.roles import Role
from hub.fhir.systems import RESIDENT_ID_SYSTEM, facility_patient_system
from hub.mpi.matching.identifiers import make_resident_id
from tests.integration.test_consent_records import actor, consent
from tests.live import LiveHub, TokenFactory

ClientFactory = Callable[..., httpx.Client]


def _create(client: httpx.Client, resource: dict[str, Any]) -> str:
    response = client.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _registration(facility: str, resident_id: str, family: str, mrn: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [
            {"system": facility_patient_system(facility), "value": mrn},
            {"system": RESIDENT_ID_SYSTEM, "value": resident_id},
        ],
        "name": [{"family": family, "given": ["秀英"]}],
        "gender": "female",
        "birthDate": "1961-09-03",
        "telecom": [{"system": "phone", "value": "13871234567"}],
    }


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["resource"]["id"] for e in response.json().get("entry", [])]


def test_consent_on_one_record_covers_every_record_of_the_person(
    client_for: ClientFactory, live_hub: LiveHub, make_token: TokenFactory
) -> None:
    family = f"随{uuid.uuid4().hex[:6]}"
    resident = make_resident_id("420502", date(1961, 9, 3), uuid.uuid4().int % 999, "female")
    hospital, station = client_for(facility="H001"), client_for(facility="CS0001")
    attacker_id = f"h002-{uuid.uuid4().hex[:6]}"
    denied = client_for(facility="H002", client_id=attacker_id)
    at_hospital = _create(hospital, _registration("H001", resident, family, uuid.uuid4().hex[:8]))
    mrn = uuid.uuid4().hex[:8]
    at_station = _create(station, _registration("CS0001", resident, family, mrn))
    observation = _create(
        station,
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "subject": {"reference": f"Patient/{at_station}"},
            "valueQuantity": {"value": 150, "unit": "mm[Hg]"},
        },
    )
    assert denied.get(f"/Patient/{at_station}").status_code == 200  # before the opt-out
    _create(hospital, consent(at_hospital, {"type": "deny", "actor": [actor("Organization/H002")]}))

    # every path to the station's record of the person, as H002
    assert denied.get(f"/Patient/{at_station}").status_code == 404
    assert denied.get(f"/Patient/{at_station}/_history/1").status_code == 404
    assert denied.get(f"/Observation/{observation}").status_code == 404
    assert denied.get(f"/Patient/{at_station}/$everything").status_code == 404
    assert (
        _ids(denied.get("/Patient", params={"identifier": f"{RESIDENT_ID_SYSTEM}|{resident}"}))
        == []
    )
    assert _ids(denied.get("/Patient", params={"family": family, "birthdate": "1961-09-03"})) == []
    by_subject = denied.get("/Observation", params={"subject": f"Patient/{at_station}"})
    assert _ids(by_subject) == []
    chained = denied.get(
        "/Observation", params={"subject:Patient.identifier": f"{RESIDENT_ID_SYSTEM}|{resident}"}
    )
    assert _ids(chained) == []
    history = denied.get("/Observation/_history", params={"_count": 1000})
    assert observation not in history.text and resident not in history.text
    # the station itself still sees what it recorded
    assert station.get(f"/Observation/{observation}").status_code == 200

    # the patient's access log (their token is bound to H001's record) shows H002's attempts
    # on the station's record
    app = client_for(role=Role.patient, patient=at_hospital)
    log = app.get("/AuditEvent", params={"_count": 200})
    assert log.status_code == 200, log.text
    agents = [e["resource"]["agent"][0]["who"]["identifier"]["value"] for e in log.json()["entry"]]
    assert attacker_id in agents

    # unlinked by a steward: the station's record is no longer the opted-out person's
    steward = httpx.Client(
        base_url=f"{live_hub.base_url}/mpi",
        headers={"Authorization": f"Bearer {make_token(role=Role.operator, facility='HUB')}"},
        timeout=30,
    )
    with steward:
        unlinked = steward.post(
            "/unlink",
            json={"facility": "CS0001", "source_id": mrn, "reason": "registered in error"},
        )
        assert unlinked.status_code == 200, unlinked.text
    assert denied.get(f"/Patient/{at_station}").status_code == 200
    assert denied.get(f"/Patient/{at_hospital}").status_code == 404
