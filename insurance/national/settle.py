"""2206 门诊预结算 / 2207 门诊结算 / 2208 门诊结算撤销, mapped onto the FHIR Claim. Pure: no I/O.

The national interface does not settle on its own: it builds the FHIR ``Claim`` that the
settlement service settles for ``Claim/$submit``, keyed by the message id, and renders the
``ClaimResponse`` the service answers (or first answered) as ``setlinfo``. So both interfaces
share one adjudication core, one ledger and one exactly-once key space.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from insurance.money import to_fen
from insurance.national.envelope import Envelope, NationalError, amount, fen, text
from insurance.national.fees import code_of, dispense_of, price_of, quantity_of
from insurance.pharmacy.rules import supporting_dispense
from insurance.resources import (
    ADJUDICATION,
    EXT_BALANCE,
    EXT_FUND_RATIO,
    EXT_RULE,
    HUB,
    HUB_ADJUDICATION,
)

MSGID_SYSTEM = f"{HUB}/sid/national-msgid"  # Claim.identifier: {fixmedins_code}/{msgid}
EXT_MESSAGE = f"{HUB}/StructureDefinition/national-message"
EXT_REVERSED_BY = f"{HUB}/StructureDefinition/national-reversed-by"
ACCOUNT_USED = {"0": False, "1": True}
FUND_TYPE = {"310": "310100", "390": "390100"}  # 基本医疗保险统筹基金 by 险种


@dataclass(frozen=True)
class SettleRequest:
    psn_no: str
    mdtrt_id: str
    chrg_bchno: str
    insutype: str
    med_type: str
    medfee_sumamt: int  # fen
    use_account: bool
    mdtrt_cert_type: str


def settle_request(data: dict[str, Any]) -> SettleRequest:
    flag = text(data, "acct_used_flag", max_length=1)
    if flag not in ACCOUNT_USED:
        raise NationalError("acct_used_flag must be 0 or 1")
    text(data, "psn_setlway", max_length=6)
    return SettleRequest(
        psn_no=text(data, "psn_no"),
        mdtrt_id=text(data, "mdtrt_id"),
        chrg_bchno=text(data, "chrg_bchno"),
        insutype=text(data, "insutype", max_length=6),
        med_type=text(data, "med_type", max_length=6),
        medfee_sumamt=fen(data, "medfee_sumamt"),
        use_account=ACCOUNT_USED[flag],
        mdtrt_cert_type=text(data, "mdtrt_cert_type", max_length=3),
    )


def msgid_key(envelope: Envelope, msgid: str) -> str:
    """The settlement key (as the ledger stores ``system|value``) of a national message."""
    return f"{MSGID_SYSTEM}|{envelope.fixmedins_code}/{msgid}"


def claim(
    envelope: Envelope,
    request: SettleRequest,
    *,
    use: str,
    patient_id: str,
    coverage_id: str,
    encounter_id: str,
    visit_date: str,
    charge_items: list[dict[str, Any]],
    message_digest: str,
) -> dict[str, Any]:
    """The FHIR Claim a 2206 (predetermination) or 2207 (claim) stands for."""
    if not charge_items:
        raise NationalError(f"no fee detail of batch {request.chrg_bchno} is uploaded (2204)")
    total = sum(quantity_of(i) * price_of(i) for i in charge_items)
    if total != request.medfee_sumamt:
        raise NationalError(
            f"medfee_sumamt {amount(request.medfee_sumamt)} != the uploaded details {amount(total)}"
        )
    body: dict[str, Any] = {
        "resourceType": "Claim",
        "identifier": [
            {"system": MSGID_SYSTEM, "value": f"{envelope.fixmedins_code}/{envelope.msgid}"}
        ],
        "status": "active",
        "type": {"coding": [{"code": "professional"}]},
        "use": use,
        "patient": {"reference": f"Patient/{patient_id}"},
        "created": visit_date,
        "provider": {"reference": f"Organization/{envelope.fixmedins_code}"},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [
            {"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{coverage_id}"}}
        ],
        "item": [
            {
                "sequence": n,
                "productOrService": {"coding": [{"code": code_of(item)}]},
                "quantity": {"value": quantity_of(item)},
                "unitPrice": {"value": amount(price_of(item)), "currency": "CNY"},
                "encounter": [{"reference": f"Encounter/{encounter_id}"}],
            }
            | ({"informationSequence": [n]} if dispense_of(item) else {})
            for n, item in enumerate(charge_items, start=1)
        ],
        "extension": [{"url": EXT_MESSAGE, "valueString": message_digest}],
    }
    dispensed = [
        supporting_dispense(n, dispense_of(item))
        for n, item in enumerate(charge_items, start=1)
        if dispense_of(item)
    ]
    if dispensed:  # the pharmacy's lines of circulated prescriptions: the dispenses they bill
        body["supportingInfo"] = dispensed
    if not request.use_account:
        body["accountUse"] = False  # read by the settlement service (no FHIR element says it)
    return body


_CATEGORIES = (
    "submitted",
    "not-covered",
    "self-paid",
    "eligible",
    "deductible",
    "benefit",
    "copay",
    "account",
    "cash",
)


def _sums(response: dict[str, Any]) -> dict[str, int]:
    """Per adjudication category, the fen summed over the items (the totals lack some)."""
    sums = dict.fromkeys(_CATEGORIES, 0)
    for item in response.get("item") or []:
        for adjudication in item.get("adjudication") or []:
            coding = adjudication["category"]["coding"][0]
            if coding.get("system") in (ADJUDICATION, HUB_ADJUDICATION):
                sums[coding["code"]] += to_fen(adjudication["amount"]["value"])
    return sums


def _extension(response: dict[str, Any], url: str) -> dict[str, Any]:
    return next((e for e in response.get("extension") or [] if e.get("url") == url), {})


def setlinfo(
    response: dict[str, Any],
    request: SettleRequest,
    *,
    msgid: str,
    setl_id: str | None,
    setl_time: str | None,
    sign: int = 1,
) -> dict[str, Any]:
    """``setlinfo`` + ``setldetail`` of a ClaimResponse; ``sign`` -1 renders a 2208 reversal."""
    sums = _sums(response)
    fund, account, cash = sums["benefit"], sums["account"], sums["cash"]
    ratio = Decimal(str(_extension(response, EXT_FUND_RATIO).get("valueDecimal", 0)))
    balance = to_fen((_extension(response, EXT_BALANCE).get("valueMoney") or {}).get("value", 0))
    info = {
        "mdtrt_id": request.mdtrt_id,
        "setl_id": setl_id,
        "psn_no": request.psn_no,
        "insutype": request.insutype,
        "med_type": request.med_type,
        "mdtrt_cert_type": request.mdtrt_cert_type,
        "setl_time": setl_time,
        "medfee_sumamt": amount(sign * sums["submitted"]),
        "fulamt_ownpay_amt": amount(sign * sums["not-covered"]),
        "overlmt_selfpay": 0.0,  # a price over its ceiling is refused, never split
        "preselfpay_amt": amount(sign * sums["self-paid"]),
        "inscp_scp_amt": amount(sign * sums["eligible"]),
        "act_pay_dedc": amount(sign * sums["deductible"]),
        "hifp_pay": amount(sign * fund),
        "pool_prop_selfpay": float(ratio),  # the fund's ratio, despite the name (see reference)
        "cvlserv_pay": 0.0,
        "hifes_pay": 0.0,
        "hifmi_pay": 0.0,
        "hifob_pay": 0.0,
        "maf_pay": 0.0,
        "oth_pay": 0.0,
        "fund_pay_sumamt": amount(sign * fund),
        "psn_part_amt": amount(sign * (account + cash)),
        "acct_pay": amount(sign * account),
        "psn_cash_pay": amount(sign * cash),
        "hosp_part_amt": 0.0,
        "balc": amount(balance),
        "acct_mulaid_pay": 0.0,
        "medins_setl_id": msgid,
        "clr_type": "11",  # 门诊
    }
    detail = {
        "fund_pay_type": FUND_TYPE.get(request.insutype, "310100"),
        "inscp_scp_amt": amount(sign * sums["eligible"]),
        "fund_payamt": amount(sign * fund),
        "setl_proc_info": str(_extension(response, EXT_RULE).get("valueCoding", {}).get("code")),
    }
    return {"setlinfo": info, "setldetail": [detail]}


@dataclass(frozen=True)
class SettlementCancel:
    setl_id: str
    mdtrt_id: str
    psn_no: str


def settlement_cancel(data: dict[str, Any]) -> SettlementCancel:
    return SettlementCancel(
        setl_id=text(data, "setl_id", max_length=64),  # the hub's Claim id, a UUID
        mdtrt_id=text(data, "mdtrt_id"),
        psn_no=text(data, "psn_no"),
    )


@dataclass(frozen=True)
class Reversal:
    """2601 冲正: reverse the message ``omsgid`` (transaction ``oinfno``) whose answer was lost."""

    psn_no: str
    omsgid: str
    oinfno: str


def reversal(data: dict[str, Any]) -> Reversal:
    return Reversal(
        psn_no=text(data, "psn_no"),
        omsgid=text(data, "omsgid"),
        oinfno=text(data, "oinfno", max_length=6),
    )


def reversed_by(claim_resource: dict[str, Any]) -> str:
    """The msgid of the national message that reversed a Claim's settlement, if one did."""
    return str(_extension(claim_resource, EXT_REVERSED_BY).get("valueString") or "")


def mark_reversed_by(claim_resource: dict[str, Any], msgid_value: str) -> dict[str, Any]:
    others = [e for e in claim_resource.get("extension") or [] if e.get("url") != EXT_REVERSED_BY]
    return dict(
        claim_resource, extension=[*others, {"url": EXT_REVERSED_BY, "valueString": msgid_value}]
    )
