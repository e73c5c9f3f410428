"""1101 人员信息获取: who the person is and how they are insured. Pure: no I/O.

The hub resolves a person by 就诊凭证类型 02 (the resident ID number) or by ``psn_no``; types 01
(the e-voucher token) and 03 (the social-security card) need the platform's own services,
which the hub does not emulate, so they are refused with a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from insurance.national.envelope import NationalError, amount, text
from insurance.resources import INSUTYPE, CoverageTerms

CERT_ID_CARD = "02"  # 居民身份证
GENDER = {"male": "1", "female": "2", "unknown": "0", "other": "9"}


@dataclass(frozen=True)
class PersonQuery:
    resident_id: str  # "" when asked by psn_no
    psn_no: str


def person_query(data: dict[str, Any]) -> PersonQuery:
    cert_type = text(data, "mdtrt_cert_type", max_length=3, required=False)
    psn_no = text(data, "psn_no", required=False)
    if psn_no and not cert_type:
        return PersonQuery("", psn_no)
    if cert_type != CERT_ID_CARD:
        raise NationalError(
            f"mdtrt_cert_type {cert_type or '(empty)'} is not supported by this hub: "
            "send 02 (resident ID number)"
        )
    return PersonQuery(text(data, "mdtrt_cert_no", max_length=50), "")


def _age(born: str, today: date) -> int | None:
    try:
        birth = date.fromisoformat(born)
    except ValueError:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def person_output(
    psn_no: str,
    patient: dict[str, Any],
    resident_id: str,
    terms: CoverageTerms,
    balance_fen: int,
    today: date,
) -> dict[str, Any]:
    name = (patient.get("name") or [{}])[0]
    full_name = str(name.get("text") or name.get("family", "") + "".join(name.get("given", [])))
    born = str(patient.get("birthDate") or "")
    return {
        "baseinfo": {
            "psn_no": psn_no,
            "psn_cert_type": "01" if resident_id else "",
            "certno": resident_id,
            "psn_name": full_name,
            "gend": GENDER.get(str(patient.get("gender")), "0"),
            "brdy": born,
            "age": _age(born, today),
        },
        "insuinfo": [
            {
                "balc": amount(balance_fen),
                "insutype": INSUTYPE[terms.scheme],
                "psn_type": "",  # 人员类别: not held by the hub
                "psn_insu_stas": "1" if terms.active else "2",  # 正常参保 / 暂停
                "cvlserv_flag": "0",
                "insuplc_admdvs": terms.region,
            }
        ],
        "idetinfo": [],
    }
