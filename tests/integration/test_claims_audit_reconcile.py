"""``hub insurance reconcile``: a facility's detail file against the hub's settlements of the
day, down to the claim (amounts differ, reversed on one side only, missing on either side)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from insurance.national.envelope import REGION_TZ
from insurance.policy import Scheme
from insurance.resources import coverage_resource
from tests.integration.booking_helpers import new_patient
from tests.integration.hub_cli import run_hub
from tests.integration.test_claims_audit import CONSULT, _claim

FACILITY = "H014"  # settles only in this test: the day's ledger is this test's


def _line(answer: dict[str, Any], reversed_: bool = False) -> str:
    total = {t["category"]["coding"][0]["code"]: t["amount"]["value"] for t in answer["total"]}
    claim = answer["request"]["reference"].removeprefix("Claim/")
    amounts = (total["submitted"], total["benefit"], total["account"])
    return f"{claim},{','.join(f'{a:.2f}' for a in amounts)},{int(reversed_)}"


def settle_three(desk: httpx.Client, cashier: httpx.Client, facility: str) -> list[Any]:
    """Three settlements of one new patient at ``facility``, the third reversed."""
    patient = new_patient(desk)
    coverage = desk.post(
        "/Coverage",
        json=coverage_resource(patient, Scheme.UEBMI, "420502", 1_000, uuid.uuid4().hex),
    ).json()["id"]
    answers = []
    for _ in range(3):
        claim = dict(_claim(patient, coverage, [(CONSULT, 10.0, None)]), provider={
            "reference": f"Organization/{facility}"})  # fmt: skip
        settled = cashier.post("/Claim/$submit", json=claim)
        assert settled.status_code == 201, settled.text
        answers.append(settled.json())
    assert cashier.post(f"/{answers[2]['request']['reference']}/$cancel").status_code == 200
    return answers


def test_reconcile_a_day_down_to_the_claim(
    client_for: Callable[..., httpx.Client], tmp_path: Path
) -> None:
    desk = client_for(facility=FACILITY)
    cashier = client_for(facility=FACILITY, purpose="HPAYMT")
    answers = settle_three(desk, cashier, FACILITY)
    third = answers[2]["request"]["reference"]
    day = datetime.now(REGION_TZ).date().isoformat()
    header = "setl_id,medfee_sumamt,fund_pay_sumamt,acct_pay,refd_setl_flag"

    balanced = tmp_path / "balanced.csv"
    balanced.write_text(
        "\n".join([header, _line(answers[0]), _line(answers[1]), _line(answers[2], True)]) + "\n"
    )
    run = run_hub("insurance", "reconcile", "--date", day, "--facility", FACILITY,
                  "--details", str(balanced), "--format", "json")  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout) == []
    assert "facility: 2 settlements" in run.stderr and "hub:      2 settlements" in run.stderr

    first, second = _line(answers[0]), _line(answers[1]).split(",")
    second[2] = "0.01"  # the fund's share, misreported
    differing = tmp_path / "differing.csv"
    differing.write_text(
        "\n".join([header, first, ",".join(second), _line(answers[2]), "NOT-SETTLED,1.00,1.00,0,0"])
        + "\n"
    )
    run = run_hub("insurance", "reconcile", "--date", day, "--facility", FACILITY,
                  "--details", str(differing), "--format", "json")  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    found = {row["setl_id"]: row["difference"] for row in json.loads(run.stdout)}
    assert found == {
        answers[1]["request"]["reference"].removeprefix("Claim/"): "amounts-differ",
        third.removeprefix("Claim/"): "reversed-at-hub-only",
        "NOT-SETTLED": "missing-at-hub",
    }
    missing = tmp_path / "missing.csv"
    missing.write_text("\n".join([header, first]) + "\n")
    run = run_hub("insurance", "reconcile", "--date", day, "--facility", FACILITY,
                  "--details", str(missing), "--format", "csv")  # fmt: skip
    assert run.returncode == 1
    assert "missing-at-facility" in run.stdout

    bad = tmp_path / "bad.csv"
    bad.write_bytes((header + "\n" + first + "\nX,1.001,0,0,0\n").encode())
    run = run_hub("insurance", "reconcile", "--date", day, "--facility", FACILITY,
                  "--details", str(bad))  # fmt: skip
    assert run.returncode == 2 and "row 3: medfee_sumamt" in run.stderr


def test_reconcile_upload_records_both_sides(
    client_for: Callable[..., httpx.Client], tmp_path: Path
) -> None:
    """``--upload``: the same service as the API's upload, as the hub's identity."""
    facility = "H018"
    answers = settle_three(
        client_for(facility=facility), client_for(facility=facility, purpose="HPAYMT"), facility
    )
    day = datetime.now(REGION_TZ).date()
    header = "setl_id,medfee_sumamt,fund_pay_sumamt,acct_pay,refd_setl_flag"
    details = tmp_path / "details.csv"
    details.write_text("\n".join([header, _line(answers[0]), _line(answers[1])]) + "\n")
    run = run_hub("insurance", "reconcile", "--date", day.isoformat(), "--facility", facility,
                  "--details", str(details), "--upload", "--format", "json")  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr  # the reversed third is missing
    result_id = f"rcr-{facility}-{day:%Y%m%d}"
    assert f"recorded PaymentReconciliation/{result_id}" in run.stderr
    system = client_for(facility=facility)
    result = system.get(f"/PaymentReconciliation/{result_id}").json()
    assert result["outcome"] == "partial"
    assert [d["identifier"]["value"] for d in result["detail"]] == [
        answers[2]["request"]["reference"].removeprefix("Claim/")
    ]
    upload = system.get(f"/PaymentReconciliation/rcu-{facility}-{day:%Y%m%d}").json()
    assert len(upload["detail"]) == 2
