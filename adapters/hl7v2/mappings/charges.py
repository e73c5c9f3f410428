"""DFT^P03: a ChargeItem per FT1, for the Patient and (with PV1-19) the Encounter.

Keyed by FT1-2 (transaction id), else the batch (FT1-3) and set id (FT1-1), else the message
control id and position. The price is FT1-11 (extended amount), else FT1-12 (unit amount)
times the quantity; an amount without currency is in yuan (CNY).
"""

from __future__ import annotations

from collections.abc import Callable

from adapters.hl7v2.errors import ErrorCode
from adapters.hl7v2.mappings.adt import subject_references
from adapters.hl7v2.mappings.common import Element, content_error, cwe, cwe_list, number
from adapters.hl7v2.mappings.context import BundleBuilder, Mapped, MappingContext, reference
from adapters.hl7v2.mappings.datetimes import to_datetime
from adapters.hl7v2.mappings.demographics import name_text
from adapters.hl7v2.parse import Message, Segment
from hub.fhir.systems import facility_identifier_system

DEFAULT_CURRENCY = "CNY"


def map_charges(message: Message, context: MappingContext) -> Mapped:
    facility = context.facility_code
    bundle = BundleBuilder(context)
    patient_ref, encounter_ref = subject_references(bundle, message)
    if patient_ref is None:
        raise content_error("the message has no PID segment", "PID", ErrorCode.SEGMENT_SEQUENCE)
    transactions = message.all("FT1")
    if not transactions:
        raise content_error("the message has no FT1 segment", "FT1", ErrorCode.SEGMENT_SEQUENCE)
    for index, ft1 in enumerate(transactions, start=1):
        item = _charge(ft1, message, facility, index)
        item["subject"] = reference(patient_ref)
        if encounter_ref:
            item["context"] = reference(encounter_ref)
        bundle.put("ChargeItem", item, item["identifier"][0])
    return bundle.build()


def _charge(ft1: Segment, message: Message, facility: str, index: int) -> Element:
    code = cwe(ft1, 7, facility) or cwe(ft1, 25, facility)
    if code is None:
        raise content_error("FT1-7 (transaction code) is required", "FT1-7",
                            ErrorCode.REQUIRED_FIELD_MISSING)  # fmt: skip
    number_ = ft1.get(2) or (f"{ft1.get(3)}/{ft1.get(1)}" if ft1.get(3) and ft1.get(1) else "")
    value = number_ or f"msg-{message.control_id}-{ft1.get(1) or index}"
    key = {"system": facility_identifier_system(facility, "charge"), "value": value}
    item: Element = {"identifier": [key], "status": "billable", "code": code}
    when = to_datetime(ft1.get(4), "FT1-4")
    if when:
        item["occurrenceDateTime"] = when
    entered = to_datetime(ft1.get(5), "FT1-5")
    if entered:
        item["enteredDate"] = entered
    count = number(ft1.get(10))
    if count is not None:
        item["quantity"] = {"value": count}
    price = _money(ft1, 11)
    unit = _money(ft1, 12)
    if price is None and unit is not None and count is not None:
        price = {"value": unit["value"] * count, "currency": unit["currency"]}
    if price is not None:
        item["priceOverride"] = price
    department = ft1.get(13, 2) or ft1.get(13)
    if department:
        item["costCenter"] = {"display": department}
    performer = name_text(ft1, 20)
    if performer:
        item["performer"] = [{"actor": {"display": performer}}]
    reasons = cwe_list(ft1, 19, facility)
    if reasons:
        item["reason"] = reasons
    return item


def _money(ft1: Segment, n: int) -> Element | None:
    amount = number(ft1.get(n, 1, 1))
    if amount is None:
        return None
    currency = ft1.get(n, 1, 2).strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        currency = DEFAULT_CURRENCY
    return {"value": amount, "currency": currency}


CHARGE_EVENTS: dict[str, Callable[[Message, MappingContext], Mapped]] = {"P03": map_charges}
