"""Who may write what (hub.fhir.write_access), written for mutation testing
(scripts/mutate write-access): every rule of the decision, on plain dicts, without a database.
"""

from __future__ import annotations

from typing import Any

import pytest

from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.errors import Forbidden, MethodNotAllowed
from hub.fhir.origin import facility_source, patient_source
from hub.fhir.write_access import decide_write, referenced_patients
from hub.fhir.write_hooks import WriteKind

CREATE, UPDATE, DELETE = WriteKind.CREATE, WriteKind.UPDATE, WriteKind.DELETE
BASE_URL = "https://hub.example/fhir"


def actor(role: Role, facility: str = "H001", patient: str | None = None) -> Actor:
    return Actor(client_id="c", facility=facility, role=role, scope="", patient=patient)


OPERATOR, AUDITOR = actor(Role.operator), actor(Role.auditor)
FACILITY, OTHER_FACILITY = actor(Role.facility_system), actor(Role.practitioner, "H002")
PATIENT = actor(Role.patient, patient="p1")


def by_facility(code: str, **body: Any) -> dict[str, Any]:
    return {"id": "r1", "meta": {"source": facility_source(code)}} | body


def by_patient(patient: str, **body: Any) -> dict[str, Any]:
    return {"id": "r1", "meta": {"source": patient_source(patient)}} | body


def allowed(
    who: Actor,
    kind: WriteKind,
    resource_type: str,
    current: dict[str, Any] | None,
    new: dict[str, Any] | None,
) -> bool:
    try:
        decide_write(who, kind, resource_type, current, new, BASE_URL)
    except Forbidden:
        return False
    return True


# --- roles ---------------------------------------------------------------------------------


def test_nobody_deletes_a_consent() -> None:
    for who in (OPERATOR, FACILITY, PATIENT):
        with pytest.raises(MethodNotAllowed):
            decide_write(who, DELETE, "Consent", by_facility("H001"), None)


def test_an_operator_writes_anything_and_an_auditor_nothing() -> None:
    foreign = by_facility("H009")
    assert allowed(OPERATOR, UPDATE, "Observation", foreign, foreign)
    assert allowed(OPERATOR, DELETE, "Observation", foreign, None)
    assert not allowed(AUDITOR, CREATE, "Observation", None, {"id": "x"})


# --- facilities ----------------------------------------------------------------------------


def test_a_facility_changes_only_what_it_recorded() -> None:
    assert allowed(FACILITY, CREATE, "Observation", None, {"status": "final"})
    mine, theirs = by_facility("H001"), by_facility("H002")
    assert allowed(FACILITY, UPDATE, "Observation", mine, mine)
    assert allowed(FACILITY, DELETE, "Observation", mine, None)
    assert not allowed(FACILITY, UPDATE, "Observation", theirs, theirs)
    assert not allowed(FACILITY, DELETE, "Observation", theirs, None)
    assert not allowed(FACILITY, UPDATE, "Observation", {"id": "r1"}, {"id": "r1"})  # the hub's


def task(**body: Any) -> dict[str, Any]:
    fixed = {
        "for": {"reference": "Patient/p1"},
        "requester": {"reference": "Organization/H002"},
        "owner": {"reference": "Organization/H001"},
        "focus": {"reference": "ServiceRequest/s1"},
        "intent": "order",
        "status": "requested",
    }
    return by_facility("H002", **(fixed | body))


def test_the_owner_of_a_task_updates_its_progress_only() -> None:
    assert allowed(FACILITY, UPDATE, "Task", task(), task(status="accepted"))
    bystander = actor(Role.practitioner, "H003")  # neither the requester nor the owner
    assert not allowed(bystander, UPDATE, "Task", task(), task(status="accepted"))
    assert not allowed(OTHER_FACILITY, UPDATE, "Task", by_facility("H009"), task())
    for changed in ("for", "requester", "owner", "focus", "basedOn"):
        readdressed = task(**{changed: {"reference": "Organization/H009"}})
        assert not allowed(FACILITY, UPDATE, "Task", task(), readdressed), changed
    assert not allowed(FACILITY, UPDATE, "Task", task(), task(intent="plan"))
    assert not allowed(FACILITY, DELETE, "Task", task(), None)  # owning is not originating
    owned_elsewhere = task(owner={"reference": "Organization/H003"})
    assert not allowed(FACILITY, UPDATE, "Task", owned_elsewhere, owned_elsewhere)
    assert not allowed(FACILITY, UPDATE, "ServiceRequest", task(), task(status="accepted"))


def test_a_facility_endpoint_must_be_its_own() -> None:
    own = {"managingOrganization": {"reference": "Organization/H001"}}
    assert allowed(FACILITY, CREATE, "Endpoint", None, own)
    other = {"managingOrganization": {"reference": "Organization/H002"}}
    assert not allowed(FACILITY, CREATE, "Endpoint", None, other)
    assert not allowed(FACILITY, CREATE, "Endpoint", None, {})
    assert not allowed(FACILITY, CREATE, "Endpoint", None, {"managingOrganization": "H001"})
    assert allowed(FACILITY, DELETE, "Endpoint", by_facility("H001", **other), None)


def consent(kind: str, actor_reference: str) -> dict[str, Any]:
    provision = {"type": kind, "actor": [{"reference": {"reference": actor_reference}}]}
    return {"resourceType": "Consent", "status": "active", "provision": provision}


def test_a_facility_records_no_consent_in_its_own_favour() -> None:
    assert not allowed(FACILITY, CREATE, "Consent", None, consent("permit", "Organization/H001"))
    assert allowed(FACILITY, CREATE, "Consent", None, consent("deny", "Organization/H002"))


# --- patients ------------------------------------------------------------------------------


def test_a_patient_token_without_its_patient_writes_nothing() -> None:
    assert not allowed(actor(Role.patient), CREATE, "Observation", None, {"status": "final"})


def test_a_patient_writes_only_inside_their_own_record() -> None:
    mine = {"subject": {"reference": "Patient/p1"}}
    assert allowed(PATIENT, CREATE, "Observation", None, mine)
    theirs = {"subject": {"reference": "Patient/p2"}}
    assert not allowed(PATIENT, CREATE, "Observation", None, theirs)
    nested = {
        "subject": {"reference": "Patient/p1"},
        "note": [{"authorReference": {"reference": "Patient/p2"}}],
    }
    assert not allowed(PATIENT, CREATE, "Observation", None, nested)
    was_theirs = by_patient("p1", subject={"reference": "Patient/p2"})
    assert not allowed(PATIENT, UPDATE, "Observation", was_theirs, by_patient("p1", **mine))


def test_a_patient_changes_only_what_their_app_recorded() -> None:
    mine = {"subject": {"reference": "Patient/p1"}}
    assert allowed(PATIENT, UPDATE, "Observation", by_patient("p1", **mine), mine)
    assert not allowed(PATIENT, UPDATE, "Observation", by_facility("H001", **mine), mine)
    assert not allowed(PATIENT, DELETE, "Observation", by_patient("p2", **mine), None)


def test_a_patient_changes_or_withdraws_their_own_consent_whoever_recorded_it() -> None:
    recorded = by_facility("H001", patient={"reference": "Patient/p1"}, status="active")
    withdrawn = recorded | {"status": "inactive"}
    assert allowed(PATIENT, UPDATE, "Consent", recorded, withdrawn)
    other = by_facility("H001", patient={"reference": "Patient/p2"}, status="active")
    assert not allowed(PATIENT, UPDATE, "Consent", other, other | {"status": "inactive"})


def patient_record(**body: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p1", "name": [{"text": "张伟"}]} | body


def test_a_patient_updates_contact_details_of_their_own_record_only() -> None:
    current = patient_record()
    moved = patient_record(address=[{"city": "宜昌"}], telecom=[{"value": "138"}])
    assert allowed(PATIENT, UPDATE, "Patient", current, moved)
    assert allowed(PATIENT, UPDATE, "Patient", current, current | {"meta": {"versionId": "2"}})
    assert not allowed(PATIENT, UPDATE, "Patient", current, patient_record(name=[{"text": "张"}]))
    assert not allowed(PATIENT, UPDATE, "Patient", current, patient_record(gender="male"))
    assert not allowed(PATIENT, CREATE, "Patient", None, current)
    assert not allowed(PATIENT, DELETE, "Patient", current, None)
    someone_else = patient_record(id="p2")
    assert not allowed(PATIENT, UPDATE, "Patient", someone_else, someone_else)


def test_a_practitioner_acting_for_a_patient_is_a_patient_writer() -> None:
    acting = actor(Role.practitioner, patient="p1")
    theirs = {"subject": {"reference": "Patient/p2"}}
    assert not allowed(acting, CREATE, "Observation", None, theirs)


# --- references ----------------------------------------------------------------------------


def test_referenced_patients_are_found_anywhere_in_the_resource() -> None:
    resource = {
        "subject": {"reference": "Patient/p1"},
        "performer": [{"reference": "Practitioner/d1"}],
        "contained": [{"participant": [{"actor": {"reference": f"{BASE_URL}/Patient/p2"}}]}],
        "note": [{"text": "Patient/p3"}],  # not a reference
        "extension": [{"valueReference": {"reference": 12}}],  # not a string
    }
    assert referenced_patients(resource, BASE_URL) == {"p1", "p2"}
    foreign = "https://other.example/fhir/Patient/x"
    assert referenced_patients({"subject": {"reference": foreign}}) == {foreign}


def test_a_patient_may_name_themselves_by_the_hubs_absolute_url() -> None:
    mine = {"subject": {"reference": f"{BASE_URL}/Patient/p1"}}
    assert allowed(PATIENT, CREATE, "Observation", None, mine)
    theirs = {"subject": {"reference": f"{BASE_URL}/Patient/p2"}}
    assert not allowed(PATIENT, CREATE, "Observation", None, theirs)


def test_a_facility_does_not_withdraw_a_consent_that_restricts_it() -> None:
    restricting = by_facility("H001", **consent("deny", "Organization/H001"))
    withdrawn = restricting | {"status": "inactive"}
    assert not allowed(FACILITY, UPDATE, "Consent", restricting, withdrawn)
    sparing = by_facility("H001", **consent("deny", "Organization/H002"))
    assert allowed(FACILITY, UPDATE, "Consent", sparing, sparing | {"status": "inactive"})
