"""处方流转 over HL7 v2: a designated pharmacy's RDS^O13 names the hub's prescription in ORC-2
(``<id>^YICHANG-HUB``) and its drug in the national catalogue (``^NHSA``). Its own Patient record
of the person (its PID) is linked by the patient index to the hospital's; the dispense counts
against the prescription like a FHIR one: within the prescription it is stored, beyond it or from
a pharmacy it is not addressed to it is dead-lettered with the reason, and nothing is counted."""

from __future__ import annotations

import random
import time
import uuid
from datetime import date

import httpx
import sqlalchemy as sa

from hub.db import session_scope
from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.mpi.matching.identifiers import make_resident_id
from insurance.pharmacy.models import PrescriptionSupplyRow
from tests.integration.hl7_harness import msa, running_gateway, wait_processed
from tests.integration.pharmacy_helpers import (
    DRUG,
    OTHER_PHARMACY,
    PHARMACY,
    ensure_organizations,
    prescribe,
)


def _rds(pharmacy: str, prescription: str, resident_id: str, amount: int) -> tuple[bytes, str]:
    control = f"RDS{time.time_ns() % 10**10}{uuid.uuid4().hex[:4]}"
    text = (
        f"MSH|^~\\&|POS|YC_{pharmacy}|HUB|YICHANG|20261201090000||RDS^O13^RDS_O13|{control}|P|2.5"
        f"|||||CHN|UNICODE UTF-8\r"
        f"PID|1||M{control}^^^YC_{pharmacy}^MR~{resident_id}^^^CHN^NI||欧阳^明远||19800512|M\r"
        f"ORC|RE|{prescription}^YICHANG-HUB|{control}||CM\r"
        f"RXD|1|{DRUG}^阿司匹林肠溶片^NHSA|20261201090000|{amount}|片||{control}\r"
    )
    return text.encode(), control


def _remaining(prescription: str) -> int | None:
    with session_scope() as session:
        found = session.execute(
            sa.select(PrescriptionSupplyRow.remaining).where(
                PrescriptionSupplyRow.prescription_id == prescription
            )
        ).scalar_one_or_none()
    return None if found is None else int(found)


def test_rds_dispenses_count_against_the_circulated_prescription(api: httpx.Client) -> None:
    ensure_organizations(api, PHARMACY, OTHER_PHARMACY)
    resident_id = make_resident_id("420502", date(1980, 5, 12), random.randint(2, 999), "male")
    patient = api.post(
        "/Patient",
        json={
            "resourceType": "Patient",
            "identifier": [{"system": RESIDENT_ID_SYSTEM, "value": resident_id}],
            "name": [{"family": "欧阳", "given": ["明远"]}],
            "gender": "male",
            "birthDate": "1980-05-12",
        },
    )
    assert patient.status_code == 201, patient.text
    rx = prescribe(api, str(patient.json()["id"]), quantity=20)  # addressed to PH001

    within = _rds(PHARMACY, rx, resident_id, 15)
    beyond = _rds(PHARMACY, rx, resident_id, 10)
    elsewhere = _rds(OTHER_PHARMACY, rx, resident_id, 5)
    with running_gateway() as gateway:
        assert [msa(a)[0] for a in gateway.send(within[0])] == ["AA"]
        [first] = wait_processed(PHARMACY, {within[1]})
        acks = gateway.send(beyond[0], elsewhere[0])
        assert [msa(a)[0] for a in acks] == ["AA", "AA"]  # stored first, decided by the worker
        [over] = wait_processed(PHARMACY, {beyond[1]})
        [foreign] = wait_processed(OTHER_PHARMACY, {elsewhere[1]})
    assert first.status == "processed", first.error
    assert over.status == "dead" and "more than prescribed" in (over.error or ""), over.error
    assert foreign.status == "dead" and "another pharmacy" in (foreign.error or ""), foreign.error
    assert _remaining(rx) == 5
