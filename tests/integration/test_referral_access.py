"""Time-boxed access for the receiving facility of a referral (issue 15 item 7), driven with
practitioner tokens of the two facilities and a third one against the live hub.

The patient opted out of sharing for treatment, so before acceptance the receiving hospital
sees none of the township centre's records; acceptance grants it the record (sensitive classes
excepted) until completion, cancellation, a hand-back or the end of the referral's validity.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.integration.referral_parties import (
    REASON,
    SOURCE,
    TARGET,
    THIRD,
    Case,
    ClientFactory,
    audited_reads,
    created,
    doctors,
    new_case,
    put,
    readable,
    task_of,
    total,
)

CATEGORY = {"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}


@pytest.fixture
def parties(client_for: ClientFactory) -> dict[str, httpx.Client]:
    return doctors(client_for)


def _refer(source: httpx.Client, case: Case, **changes: Any) -> dict[str, Any]:
    request = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [CATEGORY],
        "priority": "urgent",
        "subject": {"reference": f"Patient/{case.patient}"},
        "requester": {"reference": f"Organization/{SOURCE}"},
        "performer": [{"reference": f"HealthcareService/{TARGET}-cardiology"}],
        "reasonCode": REASON,
        **changes,
    }
    return task_of(source, created(source, request)["id"])


def _sees_record(client: httpx.Client, case: Case) -> bool:
    reads = [readable(client, f"Observation/{o}") for o in case.observations]
    assert len(set(reads)) == 1
    return reads[0]


def _accepted(parties: dict[str, httpx.Client], case: Case, **changes: Any) -> dict[str, Any]:
    task = _refer(parties[SOURCE], case, **changes)
    assert not _sees_record(parties[TARGET], case)  # before acceptance: withheld
    assert total(parties[TARGET], "Observation", patient=f"Patient/{case.patient}") == 0
    return put(parties[TARGET], task, status="accepted")


def test_acceptance_grants_the_record_until_completion(
    parties: dict[str, httpx.Client],
) -> None:
    case = new_case(parties[SOURCE])
    task = _accepted(parties, case)
    target = parties[TARGET]
    assert _sees_record(target, case)
    assert total(target, "Observation", patient=f"Patient/{case.patient}") == 2
    assert readable(target, f"Patient/{case.patient}")
    # sensitive classes stay withheld: the patient never opted in to HIV data
    assert not readable(target, f"Condition/{case.hiv}")
    assert total(target, "Condition", patient=f"Patient/{case.patient}") == 0
    # a third facility never sees it
    assert not _sees_record(parties[THIRD], case)
    assert total(parties[THIRD], "Observation", patient=f"Patient/{case.patient}") == 0
    # every read under the grant names it, and the grant names the referral's Task
    grant = f"Consent/referral-access-{task['id']}"
    assert grant in audited_reads(TARGET, f"Observation/{case.observations[0]}")[-1]
    arrived = put(target, task, status="in-progress")
    put(target, arrived, status="completed")
    assert not _sees_record(target, case)
    assert total(target, "Observation", patient=f"Patient/{case.patient}") == 0


def test_the_grant_is_a_consent_the_patient_can_read(
    parties: dict[str, httpx.Client], client_for: ClientFactory
) -> None:
    case = new_case(parties[SOURCE])
    task = _accepted(parties, case)
    patient = client_for(role="patient", facility=SOURCE, patient=case.patient)
    grant = patient.get(f"/Consent/referral-access-{task['id']}").json()
    assert grant["status"] == "active"
    assert grant["sourceReference"] == {"reference": f"Task/{task['id']}"}
    provision = grant["provision"]
    assert provision["actor"][0]["reference"] == {"reference": f"Organization/{TARGET}"}
    assert provision["purpose"][0]["code"] == "TREAT"
    assert "end" in provision["period"] and "data" not in provision


def test_cancellation_by_the_requester_ends_the_access(
    parties: dict[str, httpx.Client],
) -> None:
    case = new_case(parties[SOURCE])
    task = _accepted(parties, case)
    assert _sees_record(parties[TARGET], case)
    put(parties[SOURCE], task, status="cancelled", statusReason={"text": "家属要求"})
    assert not _sees_record(parties[TARGET], case)


def test_a_hand_back_ends_it_and_the_redirected_owner_gets_its_own(
    parties: dict[str, httpx.Client],
) -> None:
    case = new_case(parties[SOURCE])
    task = _accepted(parties, case)
    back = put(parties[TARGET], task, status="rejected", statusReason={"text": "满床"})
    assert not _sees_record(parties[TARGET], case)
    redirected = put(
        parties[SOURCE], back, status="requested", owner={"reference": f"Organization/{THIRD}"}
    )
    assert not _sees_record(parties[THIRD], case)
    put(parties[THIRD], redirected, status="accepted")
    assert _sees_record(parties[THIRD], case)
    assert not _sees_record(parties[TARGET], case)


def test_the_access_lapses_with_the_referrals_validity(
    parties: dict[str, httpx.Client],
) -> None:
    case = new_case(parties[SOURCE])
    end = datetime.now(UTC) + timedelta(seconds=3)
    validity = {"start": datetime.now(UTC).isoformat(), "end": end.isoformat()}
    _accepted(parties, case, occurrencePeriod=validity)
    assert _sees_record(parties[TARGET], case)
    while datetime.now(UTC) <= end:  # no job revokes it: the decision reads the period
        time.sleep(0.2)
    assert not _sees_record(parties[TARGET], case)
    assert total(parties[TARGET], "Observation", patient=f"Patient/{case.patient}") == 0


def test_an_open_patient_is_unaffected(parties: dict[str, httpx.Client]) -> None:
    case = new_case(parties[SOURCE], opted_out=False)
    task = _refer(parties[SOURCE], case)
    assert _sees_record(parties[TARGET], case)  # the regional default shares for treatment
    put(parties[TARGET], task, status="accepted")
    assert _sees_record(parties[TARGET], case)
    assert not readable(parties[TARGET], f"Condition/{case.hiv}")
