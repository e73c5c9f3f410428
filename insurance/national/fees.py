"""2204 门诊费用明细信息上传 / 2205 撤销: fee detail lines as FHIR ChargeItems. Pure: no I/O.

A line is identified by its visit and ``feedetl_sn`` (unique within one visit), so a retried
2204 finds the lines it stored and a line re-sent with other content is refused. A line is
``billable`` until a 2207 settles it (``billed``); 2205 marks unsettled lines
``entered-in-error``, never deletes them.

A pharmacy's line for a circulated prescription (``rx_circ_flag`` 1, 外购处方) names in
``drord_no`` the hub's MedicationDispense id of the dispense it bills (the national message has
no field for it; the hub's choice): the ChargeItem's ``service``, which 2206/2207 turn into the
Claim's supportingInfo, so the settlement checks and links the dispense.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from insurance.money import to_fen
from insurance.national.envelope import NationalError, amount, fen, local_datetime, text, whole
from insurance.pharmacy.rules import MEDICATION_DISPENSE as DISPENSE
from insurance.resources import CATALOGUE_SYSTEM, HUB

FEE_LINE_SYSTEM = f"{HUB}/sid/national-feedetl-sn"
EXT_BATCH = f"{HUB}/StructureDefinition/national-chrg-bchno"
ALL_BATCHES = "0000"  # 2205: every unsettled line of the visit
OPEN = "billable"
SETTLED = "billed"
CANCELLED = "entered-in-error"
CIRCULATED = "1"  # rx_circ_flag: the line bills a prescription circulated to a pharmacy


@dataclass(frozen=True)
class FeeLine:
    feedetl_sn: str
    mdtrt_id: str
    psn_no: str
    chrg_bchno: str
    code: str  # med_list_codg, the national catalogue code
    quantity: int
    unit_price: int  # fen
    occurred: str
    dispense: str = ""  # the MedicationDispense id a circulated prescription's line bills

    @property
    def total(self) -> int:
        return self.quantity * self.unit_price


def fee_line(row: dict[str, Any]) -> FeeLine:
    text(row, "medins_list_codg", max_length=150)
    price = fen(row, "pric")
    line = FeeLine(
        feedetl_sn=text(row, "feedetl_sn"),
        mdtrt_id=text(row, "mdtrt_id"),
        psn_no=text(row, "psn_no"),
        chrg_bchno=text(row, "chrg_bchno"),
        code=text(row, "med_list_codg", max_length=50),
        quantity=whole(row, "cnt"),
        unit_price=price,
        occurred=local_datetime(text(row, "fee_ocur_time", max_length=19)),
        dispense=_dispense_of(row),
    )
    if fen(row, "det_item_fee_sumamt") != line.total:
        raise NationalError(f"feedetl_sn {line.feedetl_sn}: det_item_fee_sumamt != cnt x pric")
    return line


def _dispense_of(row: dict[str, Any]) -> str:
    flag = text(row, "rx_circ_flag", max_length=1, required=False)
    if flag != CIRCULATED:
        return ""
    return text(row, "drord_no", max_length=64)  # required on a circulated line


def line_key(mdtrt_id: str, feedetl_sn: str) -> str:
    return f"{mdtrt_id}/{feedetl_sn}"


def charge_item(line: FeeLine, patient_id: str, encounter_id: str) -> dict[str, Any]:
    return {
        "resourceType": "ChargeItem",
        "identifier": [
            {"system": FEE_LINE_SYSTEM, "value": line_key(line.mdtrt_id, line.feedetl_sn)}
        ],
        "status": OPEN,
        "code": {"coding": [{"system": CATALOGUE_SYSTEM, "code": line.code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "context": {"reference": f"Encounter/{encounter_id}"},
        "occurrenceDateTime": line.occurred,
        "quantity": {"value": line.quantity},
        "priceOverride": {"value": amount(line.unit_price), "currency": "CNY"},
        "extension": [{"url": EXT_BATCH, "valueString": line.chrg_bchno}],
    } | ({"service": [{"reference": f"{DISPENSE}/{line.dispense}"}]} if line.dispense else {})


def same_line(stored: dict[str, Any], line: FeeLine) -> bool:
    """Whether a stored line is this one (a retry) rather than other content under its key."""
    return (
        code_of(stored) == line.code
        and quantity_of(stored) == line.quantity
        and price_of(stored) == line.unit_price
        and batch_of(stored) == line.chrg_bchno
        and dispense_of(stored) == line.dispense
    )


def code_of(item: dict[str, Any]) -> str:
    return str(((item.get("code") or {}).get("coding") or [{}])[0].get("code", ""))


def quantity_of(item: dict[str, Any]) -> int:
    return int((item.get("quantity") or {}).get("value", 0))


def price_of(item: dict[str, Any]) -> int:
    return to_fen((item.get("priceOverride") or {}).get("value", 0))


def batch_of(item: dict[str, Any]) -> str:
    found = [e for e in item.get("extension") or [] if e.get("url") == EXT_BATCH]
    return str(found[0].get("valueString")) if found else ""


def dispense_of(item: dict[str, Any]) -> str:
    """The MedicationDispense id a line bills ("" for none)."""
    for service in item.get("service") or []:
        target = str((service or {}).get("reference") or "")
        if target.startswith(f"{DISPENSE}/"):
            return target.removeprefix(f"{DISPENSE}/")
    return ""


def feedetl_sn_of(item: dict[str, Any]) -> str:
    value = str((item.get("identifier") or [{}])[0].get("value", ""))
    return value.rsplit("/", 1)[-1]


def uploaded(line: FeeLine) -> dict[str, Any]:
    """One row of the 2204 ``result``: the hub does not pre-split lines, so the shares are 0
    here and the split is what 2206 answers."""
    return {
        "feedetl_sn": line.feedetl_sn,
        "det_item_fee_sumamt": amount(line.total),
        "cnt": line.quantity,
        "pric": amount(line.unit_price),
        "memo": "",
    }


@dataclass(frozen=True)
class BatchCancel:
    psn_no: str
    mdtrt_id: str
    chrg_bchno: str


def batch_cancel(data: dict[str, Any]) -> BatchCancel:
    return BatchCancel(
        psn_no=text(data, "psn_no"),
        mdtrt_id=text(data, "mdtrt_id"),
        chrg_bchno=text(data, "chrg_bchno"),
    )
