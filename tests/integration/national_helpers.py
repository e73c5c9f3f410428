"""A HIS's side of the national interface: envelopes, messages, and insured people."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx

from insurance.national.views import NATIONAL_PATH
from insurance.policy import Scheme
from insurance.resources import coverage_resource

A_CODE = "001102000000100"  # consultation, class A, 10 yuan
B_CODE = "XN02BEA001B002010100005"  # class B, 0.90 yuan
REGION = "420502"


class His:
    """One facility's HIS calling the hub as it calls the national platform."""

    def __init__(self, client: httpx.Client, base_url: str, facility: str) -> None:
        self.client, self.url, self.facility = client, base_url + NATIONAL_PATH, facility

    def envelope(self, infno: str, data: Any, msgid: str | None = None) -> dict[str, Any]:
        stamp = datetime.now().strftime("%Y%m%d%H%M%S")
        return {
            "infno": infno,
            "msgid": msgid or f"{self.facility}{stamp}{uuid.uuid4().hex[:8]}"[:30],
            "mdtrtarea_admvs": REGION,
            "insuplc_admdvs": REGION,
            "recer_sys_code": "YBXT",
            "infver": "V1.0",
            "opter_type": "1",
            "opter": "cashier-1",
            "inf_time": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
            "fixmedins_code": self.facility,
            "fixmedins_name": "test hospital",
            "input": data,
        }

    def send(self, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        response = self.client.post(self.url, json=body)
        assert response.status_code == status, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def call(self, infno: str, data: Any, msgid: str | None = None) -> dict[str, Any]:
        answer = self.send(self.envelope(infno, data, msgid))
        assert answer["infcode"] == 0, answer["err_msg"]
        output: dict[str, Any] = answer["output"]
        return output

    def refused(self, infno: str, data: Any, msgid: str | None = None) -> str:
        answer = self.send(self.envelope(infno, data, msgid))
        assert answer["infcode"] != 0 and answer["output"] is None, answer
        return str(answer["err_msg"])

    def balance(self, psn_no: str) -> float:
        info = self.call("1101", {"data": {"psn_no": psn_no}})
        return float(info["insuinfo"][0]["balc"])

    def register(self, psn_no: str, msgid: str | None = None) -> str:
        out = self.call("2201", His.registration(psn_no), msgid)
        return str(out["data"]["mdtrt_id"])

    @staticmethod
    def registration(psn_no: str) -> dict[str, Any]:
        return {
            "data": {
                "psn_no": psn_no,
                "insutype": "310",
                "begntime": "2026-03-01 09:00:00",
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": "none",
                "ipt_otp_no": psn_no[-12:],
                "atddr_no": "D01",
                "dr_name": "Dr",
                "dept_code": "A03",
                "dept_name": "Internal medicine",
                "caty": "A03",
            }
        }

    def upload(self, psn_no: str, mdtrt_id: str, lines: list[tuple[str, int, str]]) -> None:
        rows = [
            {
                "feedetl_sn": str(n),
                "mdtrt_id": mdtrt_id,
                "psn_no": psn_no,
                "chrg_bchno": "B1",
                "rx_circ_flag": "0",
                "fee_ocur_time": "2026-03-01 09:10:00",
                "med_list_codg": code,
                "medins_list_codg": f"LOCAL-{n}",
                "det_item_fee_sumamt": f"{cnt * float(price):.2f}",
                "cnt": cnt,
                "pric": price,
                "bilg_dept_codg": "A03",
                "bilg_dept_name": "Internal medicine",
                "bilg_dr_codg": "D01",
                "bilg_dr_name": "Dr",
                "hosp_appr_flag": "0",
            }
            for n, (code, cnt, price) in enumerate(lines, start=1)
        ]
        out = self.call("2204", {"feedetail": rows})
        assert [r["feedetl_sn"] for r in out["result"]] == [str(n) for n in range(1, len(rows) + 1)]

    @staticmethod
    def settle_data(psn_no: str, mdtrt_id: str, total: str) -> dict[str, Any]:
        return {
            "data": {
                "psn_no": psn_no,
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": "none",
                "med_type": "11",
                "medfee_sumamt": total,
                "psn_setlway": "01",
                "mdtrt_id": mdtrt_id,
                "chrg_bchno": "B1",
                "insutype": "310",
                "acct_used_flag": "1",
            }
        }


def insured_person(api: httpx.Client, patient: str, balance_fen: int, active: bool = True) -> str:
    """A Coverage for ``patient``; returns its psn_no (人员编号)."""
    psn_no = f"P{uuid.uuid4().hex[:20]}"
    body = coverage_resource(patient, Scheme.UEBMI, REGION, balance_fen, psn_no)
    if not active:
        body["status"] = "cancelled"
    created = api.post("/Coverage", json=body)
    assert created.status_code == 201, created.text
    return psn_no
