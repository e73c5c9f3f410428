"""2201 门诊挂号 / 2202 挂号撤销: a visit (就诊) as a FHIR Encounter. Pure: no I/O.

``mdtrt_id`` (就诊ID) is the registering message's ``msgid``: unique per sender, and a retried
2201 finds the Encounter it made the first time instead of registering twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from insurance.national.envelope import Envelope, local_datetime, text
from insurance.resources import HUB

VISIT_SYSTEM = f"{HUB}/sid/national-mdtrt-id"
EXT_MESSAGE = f"{HUB}/StructureDefinition/national-message"  # the digest of what made it


@dataclass(frozen=True)
class Registration:
    psn_no: str
    insutype: str
    begntime: str
    ipt_otp_no: str
    dept_code: str
    dept_name: str


def registration(data: dict[str, Any]) -> Registration:
    for required in ("mdtrt_cert_type", "mdtrt_cert_no", "atddr_no", "dr_name", "caty"):
        text(data, required, max_length=50)
    return Registration(
        psn_no=text(data, "psn_no"),
        insutype=text(data, "insutype", max_length=6),
        begntime=text(data, "begntime", max_length=19),
        ipt_otp_no=text(data, "ipt_otp_no"),
        dept_code=text(data, "dept_code"),
        dept_name=text(data, "dept_name", max_length=100),
    )


def encounter(
    envelope: Envelope, visit: Registration, patient_id: str, message_digest: str
) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "identifier": [{"system": VISIT_SYSTEM, "value": envelope.msgid}],
        "status": "in-progress",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        "serviceProvider": {"reference": f"Organization/{envelope.fixmedins_code}"},
        "period": {"start": local_datetime(visit.begntime)},
        "serviceType": {"coding": [{"code": visit.dept_code, "display": visit.dept_name}]},
        "extension": [{"url": EXT_MESSAGE, "valueString": message_digest}],
    }


def registered(mdtrt_id: str, visit: Registration) -> dict[str, Any]:
    return {"data": {"mdtrt_id": mdtrt_id, "psn_no": visit.psn_no, "ipt_otp_no": visit.ipt_otp_no}}


def message_digest_of(resource: dict[str, Any]) -> str:
    found = [e for e in resource.get("extension") or [] if e.get("url") == EXT_MESSAGE]
    return str(found[0].get("valueString")) if found else ""


@dataclass(frozen=True)
class VisitRef:
    psn_no: str
    mdtrt_id: str


def visit_ref(data: dict[str, Any]) -> VisitRef:
    return VisitRef(psn_no=text(data, "psn_no"), mdtrt_id=text(data, "mdtrt_id"))
