"""The national platform interface over HTTP, driven as a cashier's HIS drives it:
1101 -> 2201 -> 2204 -> 2206 -> 2207 -> 2208, a lost 2207 answer reversed by 2601, 3201
totals, the FHIR interface giving the same accumulators, and the refusals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
import pytest

from insurance.national.envelope import REGION_TZ
from tests.integration.booking_helpers import new_patient
from tests.integration.national_helpers import A_CODE, B_CODE, His, insured_person
from tests.integration.test_insurance_settlement import _left  # the FHIR eligibility answer
from tests.live import LiveHub

ITEMS = [(A_CODE, 1, "10.00"), (B_CODE, 10, "0.90")]  # 19.00 yuan


def _his(client_for: Callable[..., httpx.Client], hub: LiveHub, facility: str) -> His:
    return His(client_for(facility=facility, purpose="HPAYMT"), hub.base_url, facility)


@pytest.fixture
def his(client_for: Callable[..., httpx.Client], live_hub: LiveHub) -> His:
    return _his(client_for, live_hub, "H001")


def test_register_upload_presettle_settle_retry_cancel(api: httpx.Client, his: His) -> None:
    psn = insured_person(api, new_patient(api), balance_fen=5_000)
    assert his.balance(psn) == 50.0
    mdtrt_id = his.register(psn, msgid="H001V" + psn[-20:])
    assert his.register(psn, msgid="H001V" + psn[-20:]) == mdtrt_id  # a retry registers once
    his.upload(psn, mdtrt_id, ITEMS)
    his.upload(psn, mdtrt_id, ITEMS)  # the same lines again: a retry, not new lines

    data = His.settle_data(psn, mdtrt_id, "19.00")
    preview = his.call("2206", data)["setlinfo"]
    assert preview["medfee_sumamt"] == 19.0 and preview["setl_id"] is None
    assert his.balance(psn) == 50.0  # nothing committed

    settle = his.envelope("2207", data)
    first = his.send(settle)
    assert first["infcode"] == 0, first["err_msg"]
    info = first["output"]["setlinfo"]
    assert round(info["fund_pay_sumamt"] + info["acct_pay"] + info["psn_cash_pay"], 2) == 19.0
    assert info["medins_setl_id"] == settle["msgid"]
    assert info["setl_id"] and info["fund_pay_sumamt"] == preview["fund_pay_sumamt"]
    after = his.balance(psn)
    assert after == round(50.0 - info["acct_pay"], 2) and info["balc"] == after

    retry = his.send(settle)
    assert retry["output"] == first["output"]  # the first answer, once
    assert his.balance(psn) == after
    changed = dict(settle, input=His.settle_data(psn, mdtrt_id, "10.00"))
    assert his.send(changed)["infcode"] != 0  # the same msgid with other content
    assert "settled already" in his.refused("2207", data)  # a new msgid for a settled batch

    cancel = {"data": {"setl_id": info["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": psn}}
    reversed_ = his.call("2208", cancel)["setlinfo"]
    assert reversed_["medfee_sumamt"] == -19.0 and reversed_["acct_pay"] == -info["acct_pay"]
    assert his.balance(psn) == 50.0  # restored exactly
    assert "reversed already" in his.refused("2208", cancel)
    assert his.balance(psn) == 50.0


def test_lost_settle_answer_is_reversed_by_2601(api: httpx.Client, his: His) -> None:
    psn = insured_person(api, new_patient(api), balance_fen=5_000)
    mdtrt_id = his.register(psn)
    his.upload(psn, mdtrt_id, ITEMS)
    lost = his.envelope("2207", His.settle_data(psn, mdtrt_id, "19.00"))
    assert his.send(lost)["infcode"] == 0  # the hub settled; suppose the HIS never heard
    assert his.balance(psn) < 50.0

    reverse = {"data": {"psn_no": psn, "omsgid": lost["msgid"], "oinfno": "2207"}}
    reversal = his.envelope("2601", reverse)
    assert his.send(reversal)["infcode"] == 0
    assert his.balance(psn) == 50.0
    assert his.send(reversal)["infcode"] == 0  # the same 2601 retried: answered, not again
    assert his.balance(psn) == 50.0
    assert "reversed already" in his.refused("2601", reverse)  # another msgid
    never = {"data": {"psn_no": psn, "omsgid": "H001-never-sent", "oinfno": "2207"}}
    assert "nothing to reverse" in his.refused("2601", never)
    assert his.refused("2601", dict(reverse, data=dict(reverse["data"], oinfno="2204")))
    assert his.balance(psn) == 50.0

    again = his.call("2207", His.settle_data(psn, mdtrt_id, "19.00"))  # lines reopened
    assert his.balance(psn) == round(50.0 - again["setlinfo"]["acct_pay"], 2)


def test_3201_totals_match_the_ledger(
    client_for: Callable[..., httpx.Client], live_hub: LiveHub
) -> None:
    his = _his(client_for, live_hub, "H016")  # a facility no other test settles at
    registrar = client_for(facility="H016")  # its own patients: consent lets it see them
    settled = []
    for _ in range(2):
        psn = insured_person(registrar, new_patient(registrar), balance_fen=1_000)
        mdtrt_id = his.register(psn)
        his.upload(psn, mdtrt_id, ITEMS)
        settled.append((psn, mdtrt_id, his.call("2207", His.settle_data(psn, mdtrt_id, "19.00"))))
    psn, mdtrt_id, last = settled[-1]
    cancel = {"data": {"setl_id": last["setlinfo"]["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": psn}}
    his.call("2208", cancel)
    kept = settled[0][2]["setlinfo"]
    day = datetime.now(REGION_TZ).date().isoformat()

    def totals(count: int, medfee: float, fund: float, acct: float, refunds: str) -> str:
        data = {
            "insutype": "310",
            "clr_type": "11",
            "setl_optins": "420502",
            "stmt_begndate": day,
            "stmt_enddate": day,
            "medfee_sumamt": medfee,
            "fund_pay_sumamt": fund,
            "acct_pay": acct,
            "fixmedins_setl_cnt": count,
            "refd_setl_flag": refunds,
        }
        return str(his.call("3201", {"data": data})["stmtinfo"]["stmt_rslt"])

    fund, acct = kept["fund_pay_sumamt"], kept["acct_pay"]
    assert totals(3, 19.0, fund, acct, "1") == "0"  # two settlements and one reversal
    assert totals(2, 38.0, round(2 * fund, 2), round(2 * acct, 2), "0") == "0"  # no refunds
    assert totals(3, 19.01, fund, acct, "1") == "1"


def _coverage_ref(api: httpx.Client, patient: str) -> str:
    found = api.get("/Coverage", params={"beneficiary": f"Patient/{patient}"}).json()
    return str(found["entry"][0]["resource"]["id"])


def test_fhir_and_national_settlements_leave_the_same_accumulators(
    api: httpx.Client, his: His, client_for: Callable[..., httpx.Client]
) -> None:
    cashier = client_for(facility="H001", purpose="HPAYMT")
    people = [new_patient(api), new_patient(api)]
    national, fhir = (insured_person(api, p, balance_fen=800) for p in people)
    coverages = [_coverage_ref(api, p) for p in people]
    before = _left(cashier, people[0], coverages[0])
    assert before == _left(cashier, people[1], coverages[1])

    mdtrt_id = his.register(national)
    his.upload(national, mdtrt_id, ITEMS)
    answer = his.call("2207", His.settle_data(national, mdtrt_id, "19.00"))["setlinfo"]

    claim = {
        "resourceType": "Claim",
        "identifier": [{"system": "urn:test:his", "value": fhir}],
        "status": "active",
        "type": {"coding": [{"code": "professional"}]},
        "use": "claim",
        "patient": {"reference": f"Patient/{people[1]}"},
        "created": "2026-03-01",
        "provider": {"reference": "Organization/H001"},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [
            {"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{coverages[1]}"}}
        ],
        "item": [
            {
                "sequence": n,
                "productOrService": {"coding": [{"code": code}]},
                "quantity": {"value": cnt},
                "unitPrice": {"value": float(price), "currency": "CNY"},
            }
            for n, (code, cnt, price) in enumerate(ITEMS, start=1)
        ],
    }
    assert cashier.post("/Claim/$submit", json=claim).status_code == 201
    after = _left(cashier, people[0], coverages[0])
    assert after == _left(cashier, people[1], coverages[1])  # deductible, cap and account
    assert after != before and after["account-balance"] == answer["balc"]
    assert his.balance(fhir) == his.balance(national) == answer["balc"]


def test_refusals_answer_infcode_and_move_nothing(
    api: httpx.Client, his: His, client_for: Callable[..., httpx.Client], live_hub: LiveHub
) -> None:
    psn = insured_person(api, new_patient(api), balance_fen=5_000)
    mdtrt_id = his.register(psn)

    other = _his(client_for, live_hub, "H002")
    impostor = other.envelope("2201", His.registration(psn))
    impostor["fixmedins_code"] = "H001"  # H002's token claiming to be H001
    assert other.send(impostor, status=403)["infcode"] != 0
    treating = His(client_for(facility="H001"), live_hub.base_url, "H001")  # purpose TREAT
    asked = treating.envelope("1101", {"data": {"psn_no": psn}})
    assert treating.send(asked, status=403)["infcode"] != 0

    assert his.client.post(his.url, content=b"{not json").json()["infcode"] != 0
    no_msgid = his.envelope("1101", {"data": {"psn_no": psn}})
    del no_msgid["msgid"]
    assert "msgid" in his.send(no_msgid)["err_msg"]
    assert "infno 9999" in his.refused("9999", {})
    assert "no such insured person" in his.refused("1101", {"data": {"psn_no": "P-unknown"}})
    inactive = insured_person(api, new_patient(api), balance_fen=5_000, active=False)
    assert "not active" in his.refused("2201", His.registration(inactive))
    assert "catalogue" in his.refused(
        "2204",
        {
            "feedetail": [
                {
                    "feedetl_sn": "1",
                    "mdtrt_id": mdtrt_id,
                    "psn_no": psn,
                    "chrg_bchno": "B1",
                    "fee_ocur_time": "2026-03-01 09:10:00",
                    "med_list_codg": "NOT-A-CODE",
                    "medins_list_codg": "X",
                    "det_item_fee_sumamt": "1.00",
                    "cnt": 1,
                    "pric": "1.00",
                }
            ]
        },
    )
    his.upload(psn, mdtrt_id, ITEMS)
    assert "medfee_sumamt" in his.refused("2207", His.settle_data(psn, mdtrt_id, "20.00"))
    assert his.balance(psn) == 50.0
