"""The reconciliation API: a facility's system uploads its day's 3202 details (CSV or a FHIR
PaymentReconciliation) and reads the hub's answer; auditors run and read it; nobody else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from hub.auth.roles import Role
from insurance.claims_audit.reconcile_fhir import (
    EXT_DIFFERENCE,
    EXT_TOTALS,
    RESULT_SYSTEM,
    upload_resource,
)
from insurance.claims_audit.reconciliation import parse_details
from insurance.national.envelope import REGION_TZ
from tests.integration.test_claims_audit_reconcile import _line, settle_three

FACILITY = "H015"  # settles only in this test: the day's ledger is this test's
OTHER = "H016"
HEADER = "setl_id,medfee_sumamt,fund_pay_sumamt,acct_pay,refd_setl_flag"
CSV = {"Content-Type": "text/csv"}


@pytest.fixture(scope="module")
def settled(live_hub: Any, make_token: Callable[..., str]) -> dict[str, Any]:
    def client(**args: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {make_token(**args)}",
                   "Content-Type": "application/fhir+json"}  # fmt: skip
        return httpx.Client(base_url=live_hub.fhir_url, headers=headers, timeout=30)

    desk, cashier = client(facility=FACILITY), client(facility=FACILITY, purpose="HPAYMT")
    answers = settle_three(desk, cashier, FACILITY)
    desk.close()
    cashier.close()
    return {"answers": answers, "day": datetime.now(REGION_TZ).date().isoformat()}


def _his(client_for: Callable[..., httpx.Client], facility: str = FACILITY) -> httpx.Client:
    """The facility's system, claiming payment (HPAYMT) as uploads require."""
    return client_for(facility=facility, purpose="HPAYMT")


def _params(day: str, facility: str = FACILITY) -> dict[str, str]:
    return {"facility": facility, "date": day}


def _claim_id(answer: dict[str, Any]) -> str:
    return str(answer["request"]["reference"]).removeprefix("Claim/")


def _upload(client: httpx.Client, day: str, body: str, facility: str = FACILITY) -> httpx.Response:
    return client.post(
        "/PaymentReconciliation/$upload", params=_params(day, facility), headers=CSV,
        content=body.encode())  # fmt: skip


def test_a_csv_upload_answers_the_differences_with_drill_down(
    settled: dict[str, Any], client_for: Callable[..., httpx.Client]
) -> None:
    answers, day = settled["answers"], settled["day"]
    system = _his(client_for)
    second = _line(answers[1]).split(",")
    second[2] = "0.01"  # the fund's share, misreported
    rows = [HEADER, _line(answers[0]), ",".join(second), _line(answers[2]), "NOT-AT-HUB,1,1,0,0"]
    answer = _upload(system, day, "\n".join(rows) + "\n")
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["resourceType"] == "PaymentReconciliation"
    assert result["outcome"] == "partial"
    assert result["requestor"] == {"reference": f"Organization/{FACILITY}"}
    found = {
        d["identifier"]["value"]: (
            next(e["valueCode"] for e in d["extension"] if e["url"] == EXT_DIFFERENCE),
            d.get("request"), d.get("response"))
        for d in result["detail"]
    }  # fmt: skip
    differing = _claim_id(answers[1])
    assert found[differing][0] == "amounts-differ"
    assert found[differing][1] == {"reference": f"Claim/{differing}"}
    assert found[differing][2] == {"reference": f"ClaimResponse/{answers[1]['id']}"}
    assert found[_claim_id(answers[2])][0] == "reversed-at-hub-only"
    assert found["NOT-AT-HUB"] == ("missing-at-hub", None, None)
    assert len(found) == 3
    totals = next(e for e in result["extension"] if e["url"] == EXT_TOTALS)["extension"]
    counts = {t["url"]: t["extension"][0]["valueUnsignedInt"] for t in totals}
    assert counts == {"facility": 4, "hub": 2}
    # the facility reads its own answer and upload back, and finds them by requestor
    assert system.get(f"/PaymentReconciliation/{result['id']}").status_code == 200
    mine = system.get("/PaymentReconciliation", params={"requestor": f"Organization/{FACILITY}"})
    assert {e["resource"]["id"] for e in mine.json()["entry"]} == {
        result["id"], f"rcu-{FACILITY}-{day.replace('-', '')}"}  # fmt: skip
    # found by its day (identifier) and outcome
    by_day = system.get("/PaymentReconciliation", params={
        "identifier": f"{RESULT_SYSTEM}|{FACILITY}/{day}", "outcome": "partial"})  # fmt: skip
    assert [e["resource"]["id"] for e in by_day.json()["entry"]] == [result["id"]]
    balanced = system.get("/PaymentReconciliation", params={
        "identifier": f"{RESULT_SYSTEM}|{FACILITY}/{day}", "outcome": "complete"})  # fmt: skip
    assert balanced.json().get("entry", []) == []
    # the auditor drills down from the difference to the hub's claim
    auditor = client_for(role=Role.insurance_auditor, facility="YB420500")
    assert auditor.get(f"/Claim/{differing}").status_code == 200
    assert auditor.get(f"/PaymentReconciliation/{result['id']}").status_code == 200


def test_a_fhir_upload_that_balances_and_an_auditors_rerun(
    settled: dict[str, Any], client_for: Callable[..., httpx.Client]
) -> None:
    answers, day = settled["answers"], settled["day"]
    text = "\n".join([HEADER, _line(answers[0]), _line(answers[1]), _line(answers[2], True)])
    lines = parse_details((text + "\n").encode())
    body = upload_resource(FACILITY, datetime.fromisoformat(day).date(), lines,
                           datetime.now(REGION_TZ))  # fmt: skip
    del body["id"]
    system = _his(client_for)
    answer = system.post("/PaymentReconciliation/$upload", params=_params(day), json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "complete" and answer.json()["detail"] == []
    auditor = client_for(role=Role.insurance_auditor, facility="YB420500")
    again = auditor.post("/PaymentReconciliation/$reconcile", params=_params(day))
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "complete"
    assert int(again.json()["meta"]["versionId"]) > int(answer.json()["meta"]["versionId"])
    # compliance auditors and operators read it too
    for role in (Role.auditor, Role.operator):
        reader = client_for(role=role, facility="HUB")
        assert reader.get(f"/PaymentReconciliation/{again.json()['id']}").status_code == 200


def test_another_facility_practitioners_and_patients_are_refused(
    settled: dict[str, Any], client_for: Callable[..., httpx.Client]
) -> None:
    day = settled["day"]
    rows = f"{HEADER}\n{_line(settled['answers'][0])}\n"
    other = _his(client_for, OTHER)
    assert _upload(other, day, rows).status_code == 403  # uploads for another facility
    assert _upload(client_for(facility=FACILITY), day, rows).status_code == 403  # no HPAYMT
    assert _upload(_his(client_for), day, rows).status_code == 200
    result_id = f"rcr-{FACILITY}-{day.replace('-', '')}"
    assert other.get(f"/PaymentReconciliation/{result_id}").status_code == 403
    search = other.get("/PaymentReconciliation", params={"requestor": f"Organization/{FACILITY}"})
    assert search.status_code == 200 and search.json().get("entry", []) == []
    assert other.get("/PaymentReconciliation/_history").status_code == 403
    # a forged facility: a body in another facility's name, or the generic API
    the_day = datetime.fromisoformat(day).date()
    theirs = upload_resource(OTHER, the_day, {}, datetime.now(REGION_TZ))
    forged = _his(client_for).post(
        "/PaymentReconciliation/$upload", params=_params(day), json=theirs)  # fmt: skip
    assert forged.status_code == 403
    mine = upload_resource(FACILITY, the_day, {}, datetime.now(REGION_TZ))
    generic = _his(client_for)
    assert generic.put(f"/PaymentReconciliation/{theirs['id']}", json=theirs).status_code == 403
    answered = dict(mine, outcome="complete")
    assert generic.put(f"/PaymentReconciliation/{mine['id']}", json=answered).status_code == 403
    # another facility cannot take this facility's upload (or result) id first
    squat = dict(theirs, id=mine["id"])
    assert other.put(f"/PaymentReconciliation/{mine['id']}", json=squat).status_code == 403
    squat = dict(theirs, id=f"rcr-{OTHER}-{day.replace('-', '')}")
    assert other.put(f"/PaymentReconciliation/{squat['id']}", json=squat).status_code == 403
    assert other.post("/PaymentReconciliation", json=dict(theirs, id=None)).status_code == 403
    practitioner = client_for(role=Role.practitioner, facility=FACILITY, purpose="HPAYMT")
    assert _upload(practitioner, day, rows).status_code == 403
    assert practitioner.get(f"/PaymentReconciliation/{result_id}").status_code == 403
    # nor through an _include or _revinclude of the facility's Organization
    revinclude = {"_id": FACILITY, "_revinclude": "PaymentReconciliation:requestor"}
    for reader in (practitioner, other):
        found = reader.get("/Organization", params=revinclude)
        assert found.status_code == 200, found.text
        types = {e["resource"]["resourceType"] for e in found.json().get("entry", [])}
        assert types == {"Organization"}
    own = _his(client_for).get("/Organization", params=revinclude).json()["entry"]
    assert result_id in {e["resource"]["id"] for e in own}  # the facility's own: included
    patient = client_for(role=Role.patient, facility=FACILITY, patient="p-nobody")
    assert _upload(patient, day, rows).status_code == 403
    assert patient.get(f"/PaymentReconciliation/{result_id}").status_code == 404
    # a facility does not re-run; an auditor does not upload
    system = _his(client_for)
    assert system.post("/PaymentReconciliation/$reconcile", params=_params(day)).status_code == 403
    auditor = client_for(role=Role.insurance_auditor, facility="YB420500")
    assert _upload(auditor, day, rows, facility=FACILITY).status_code == 403
    assert auditor.post("/PaymentReconciliation/$reconcile",
                        params=_params(day, OTHER)).status_code == 404  # fmt: skip


def test_a_bad_file_is_refused_whole_naming_row_and_field(
    settled: dict[str, Any], client_for: Callable[..., httpx.Client]
) -> None:
    day = settled["day"]
    system = _his(client_for)
    before = system.get(f"/PaymentReconciliation/rcu-{FACILITY}-{day.replace('-', '')}")
    bad = f"{HEADER}\n{_line(settled['answers'][0])}\nX,1.001,0,0,0\n"
    answer = _upload(system, day, bad)
    assert answer.status_code == 422
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert "row 3: medfee_sumamt" in answer.json()["issue"][0]["diagnostics"]
    latin = _upload(system, day, "")
    assert latin.status_code == 422 and "row 1" in latin.text
    gbk = system.post("/PaymentReconciliation/$upload", params=_params(day), headers=CSV,
                      content=(HEADER + "\n结算,1,1,0,0\n").encode("gbk"))  # fmt: skip
    assert gbk.status_code == 422 and "not UTF-8" in gbk.text
    wrong = {"resourceType": "PaymentReconciliation", "requestor": {
        "reference": f"Organization/{FACILITY}"}, "period": {"start": day, "end": day},
        "detail": [{"identifier": {"value": "S1"}, "type": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/payment-type", "code": "payment"}]},
            "amount": {"value": 1.5, "currency": "CNY"}}]}  # fmt: skip
    fhir = system.post("/PaymentReconciliation/$upload", params=_params(day), json=wrong)
    assert fhir.status_code == 422 and "detail[0]" in fhir.text and "medfee_sumamt" in fhir.text
    xml = {"Content-Type": "application/xml"}
    other_type = system.post(
        "/PaymentReconciliation/$upload", params=_params(day), headers=xml, content=b"<x/>"
    )
    assert other_type.status_code == 415
    after = system.get(f"/PaymentReconciliation/rcu-{FACILITY}-{day.replace('-', '')}")
    if before.status_code == 200:  # nothing written: the same version as before
        assert after.json()["meta"]["versionId"] == before.json()["meta"]["versionId"]
    else:
        assert after.status_code == 404
