"""A day's ledger reconciliation as FHIR ``PaymentReconciliation`` resources. Pure.

Two resources per facility and day, each with a stable id so a new upload or a re-run is a new
version of the same resource (its history keeps the earlier ones):

- the facility's side (``rcu-``): its 3202 details, written by the facility's system (or the
  CLI's ``--upload``). ``requestor`` the facility, ``period`` the day, ``paymentAmount`` its
  fund total, one ``detail`` per settlement: ``identifier`` the ``setl_id`` (the hub's Claim id;
  an identifier, not a reference, since the hub may not know it), ``amount`` ``fund_pay_sumamt``,
  ``type`` ``payment`` or ``adjustment`` for ``refd_setl_flag`` 0 or 1, and the other two amounts
  (``medfee_sumamt``, ``acct_pay``) in the ``settlement-amounts`` extension;
- the hub's result (``rcr-``), written by the hub: ``outcome`` ``complete`` when balanced,
  ``partial`` when not, both sides' 3201 totals in the ``reconciliation-totals`` extension, one
  ``detail`` per difference with its code (``reconciliation-difference``), both sides' amounts
  and the drill-down: ``request`` the hub's Claim, ``response`` its ClaimResponse.

Why a PaymentReconciliation rather than a DetectedIssue per difference: a run is one answer to
one upload, searched by facility (``requestor``), day and outcome, read by the facility itself;
a difference is not a finding to confirm or dismiss, and findings are closed to facilities.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from typing import Any

from insurance.claims_audit.reconciliation import (
    DetailFileError,
    Discrepancy,
    LedgerLine,
    Totals,
)
from insurance.money import money, to_fen

HUB = "https://hub.example.cn/fhir"
SETTLEMENT_SYSTEM = f"{HUB}/sid/insurance-setl-id"
UPLOAD_SYSTEM = f"{HUB}/sid/reconciliation-upload"
RESULT_SYSTEM = f"{HUB}/sid/reconciliation-result"
EXT_AMOUNTS = f"{HUB}/StructureDefinition/settlement-amounts"
EXT_TOTALS = f"{HUB}/StructureDefinition/reconciliation-totals"
EXT_DIFFERENCE = f"{HUB}/StructureDefinition/reconciliation-difference"
EXT_UPLOAD = f"{HUB}/StructureDefinition/reconciliation-upload"
PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/payment-type"
TYPE_OF_FLAG = {False: "payment", True: "adjustment"}
_PLAIN_CODE = re.compile(r"[A-Za-z0-9.]{1,40}")
TYPE = "PaymentReconciliation"


def _day_id(prefix: str, facility: str, day: date) -> str:
    code = (
        facility
        if _PLAIN_CODE.fullmatch(facility)
        else hashlib.sha256(facility.encode()).hexdigest()[:32]
    )
    return f"{prefix}-{code}-{day:%Y%m%d}"


def upload_id(facility: str, day: date) -> str:
    return _day_id("rcu", facility, day)


def result_id(facility: str, day: date) -> str:
    return _day_id("rcr", facility, day)


def _organization(facility: str) -> dict[str, str]:
    return {"reference": f"Organization/{facility}"}


def _of_day(
    resource_id: str, system: str, facility: str, day: date, now: datetime
) -> dict[str, Any]:
    """What both sides' resources share: the facility and the day they are about."""
    return {
        "resourceType": TYPE,
        "id": resource_id,
        "identifier": [{"system": system, "value": f"{facility}/{day.isoformat()}"}],
        "status": "active",
        "period": {"start": day.isoformat(), "end": day.isoformat()},
        "created": now.isoformat(),
        "requestor": _organization(facility),
        "paymentDate": day.isoformat(),
    }


def _type(reversed_: bool) -> dict[str, Any]:
    code = TYPE_OF_FLAG[reversed_]
    return {"coding": [{"system": PAYMENT_TYPE, "code": code}]}


def _amounts(prefix: str, line: LedgerLine) -> list[dict[str, Any]]:
    return [
        {"url": f"{prefix}medfee_sumamt", "valueMoney": money(line.submitted)},
        {"url": f"{prefix}fund_pay_sumamt", "valueMoney": money(line.fund)},
        {"url": f"{prefix}acct_pay", "valueMoney": money(line.account)},
        {"url": f"{prefix}refd_setl_flag", "valueCode": "1" if line.reversed else "0"},
    ]


def upload_resource(
    facility: str, day: date, lines: dict[str, LedgerLine], now: datetime
) -> dict[str, Any]:
    """The facility's side as it is stored, whether it came as CSV or as FHIR."""
    kept = [line for line in lines.values() if not line.reversed]
    return {
        **_of_day(upload_id(facility, day), UPLOAD_SYSTEM, facility, day, now),
        "paymentAmount": money(sum(line.fund for line in kept)),
        "detail": [
            {
                "identifier": {"system": SETTLEMENT_SYSTEM, "value": line.setl_id},
                "type": _type(line.reversed),
                "amount": money(line.fund),
                "extension": [
                    {
                        "url": EXT_AMOUNTS,
                        "extension": [
                            {"url": "medfee_sumamt", "valueMoney": money(line.submitted)},
                            {"url": "acct_pay", "valueMoney": money(line.account)},
                        ],
                    }
                ],
            }
            for line in sorted(lines.values(), key=lambda x: x.setl_id)
        ],
    }


def requestor_of(resource: dict[str, Any]) -> str:
    reference = (resource.get("requestor") or {}).get("reference")
    return reference.removeprefix("Organization/") if isinstance(reference, str) else ""


def _money_fen(value: Any, where: str) -> int:
    if not isinstance(value, dict) or "value" not in value:
        raise DetailFileError(f"{where}: a Money with a value is required")
    if value.get("currency", "CNY") != "CNY":
        raise DetailFileError(f"{where}: amounts are in CNY")
    if isinstance(value["value"], bool) or not isinstance(value["value"], int | float | str):
        raise DetailFileError(f"{where}: not an amount")
    try:
        return to_fen(value["value"])
    except ValueError as exc:
        raise DetailFileError(f"{where}: {exc}") from None


def _sub_amount(detail: dict[str, Any], name: str, where: str) -> int:
    for extension in detail.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == EXT_AMOUNTS:
            for part in extension.get("extension") or []:
                if isinstance(part, dict) and part.get("url") == name:
                    return _money_fen(part.get("valueMoney"), f"{where}.extension({name})")
    raise DetailFileError(f"{where}: the {EXT_AMOUNTS} extension needs {name}")


def _line(detail: Any, where: str) -> LedgerLine:
    if not isinstance(detail, dict):
        raise DetailFileError(f"{where}: not an object")
    identifier = detail.get("identifier")
    setl_id = identifier.get("value") if isinstance(identifier, dict) else None
    if not isinstance(setl_id, str) or not setl_id.strip():
        raise DetailFileError(f"{where}.identifier: the setl_id (identifier.value) is required")
    codes = [
        c.get("code")
        for c in ((detail.get("type") or {}).get("coding") or [])
        if isinstance(c, dict) and c.get("system") == PAYMENT_TYPE
    ]
    if len(codes) != 1 or codes[0] not in ("payment", "adjustment"):
        raise DetailFileError(f"{where}.type: payment (a settlement) or adjustment (reversed)")
    return LedgerLine(
        setl_id.strip(),
        _sub_amount(detail, "medfee_sumamt", where),
        _money_fen(detail.get("amount"), f"{where}.amount"),
        _sub_amount(detail, "acct_pay", where),
        reversed=codes[0] == "adjustment",
    )


def parse_upload(resource: Any, day: date) -> dict[str, LedgerLine]:
    """The details of an uploaded PaymentReconciliation; :class:`DetailFileError` naming the
    element for anything wrong, before any of it is used."""
    if not isinstance(resource, dict) or resource.get("resourceType") != TYPE:
        raise DetailFileError(f"the body must be a {TYPE}")
    period = resource.get("period") or {}
    if period.get("start") != day.isoformat() or period.get("end") != day.isoformat():
        raise DetailFileError(f"{TYPE}.period: start and end must be the day {day.isoformat()}")
    details = resource.get("detail") or []
    if not isinstance(details, list):
        raise DetailFileError(f"{TYPE}.detail: a list")
    lines: dict[str, LedgerLine] = {}
    for index, detail in enumerate(details):
        line = _line(detail, f"{TYPE}.detail[{index}]")
        if line.setl_id in lines:
            raise DetailFileError(f"{TYPE}.detail[{index}]: setl_id {line.setl_id} twice")
        lines[line.setl_id] = line
    return lines


def _totals(name: str, totals: Totals) -> dict[str, Any]:
    return {
        "url": name,
        "extension": [
            {"url": "fixmedins_setl_cnt", "valueUnsignedInt": totals.count},
            {"url": "medfee_sumamt", "valueMoney": money(totals.submitted)},
            {"url": "fund_pay_sumamt", "valueMoney": money(totals.fund)},
            {"url": "acct_pay", "valueMoney": money(totals.account)},
        ],
    }


def _difference(found: Discrepancy, drill: dict[str, str]) -> dict[str, Any]:
    either = found.hub or found.facility
    assert either is not None  # a difference has at least one side
    detail: dict[str, Any] = {
        "identifier": {"system": SETTLEMENT_SYSTEM, "value": found.setl_id},
        "type": _type(either.reversed),
        "amount": money(either.fund),
        "extension": [
            {"url": EXT_DIFFERENCE, "valueCode": str(found.difference)},
            {
                "url": EXT_AMOUNTS,
                "extension": [
                    *(_amounts("facility-", found.facility) if found.facility else []),
                    *(_amounts("hub-", found.hub) if found.hub else []),
                ],
            },
        ],
    }
    if found.hub is not None:
        detail["request"] = {"reference": f"Claim/{found.setl_id}"}
    if found.setl_id in drill:
        detail["response"] = {"reference": drill[found.setl_id]}
    return detail


def result_resource(
    facility: str,
    day: date,
    totals: tuple[Totals, Totals],
    discrepancies: list[Discrepancy],
    responses: dict[str, str],
    now: datetime,
) -> dict[str, Any]:
    """The hub's answer; ``totals`` (facility, hub); ``responses`` setl_id -> ClaimResponse."""
    theirs, ours = totals
    balanced = not discrepancies and theirs == ours
    disposition = (
        "balanced"
        if balanced
        else f"{len(discrepancies)} settlements differ"
        + ("" if theirs == ours else "; the 3201 totals differ")
    )
    return {
        **_of_day(result_id(facility, day), RESULT_SYSTEM, facility, day, now),
        "outcome": "complete" if balanced else "partial",
        "disposition": disposition,
        "paymentAmount": money(ours.fund),
        "extension": [
            {
                "url": EXT_UPLOAD,
                "valueReference": {"reference": f"{TYPE}/{upload_id(facility, day)}"},
            },
            {"url": EXT_TOTALS, "extension": [_totals("facility", theirs), _totals("hub", ours)]},
        ],
        "detail": [_difference(d, responses) for d in discrepancies],
    }
