"""Referrals (REF^I12/I13/I14, RRI^I12) and general clinical orders (OMG^O19).

A referral is a ServiceRequest (category *patient referral*, ``referral.rules``) plus the Task
that tracks it (``code`` fulfill, ``focus`` the request).
RF1-1 sets both statuses; an I14 (cancel) cancels whatever RF1-1 says. The referring provider
(PRD-1 RP) is the requester, the referred-to provider (RT) the performer and the Task's owner.
An OMG^O19 gives a ServiceRequest per ORC/OBR pair.
"""

from __future__ import annotations

from collections.abc import Callable

from adapters.hl7v2.errors import ErrorCode
from adapters.hl7v2.mappings.adt import subject_references
from adapters.hl7v2.mappings.common import Element, content_error, cwe, cwe_list, order_identifiers
from adapters.hl7v2.mappings.context import BundleBuilder, Mapped, MappingContext, reference
from adapters.hl7v2.mappings.datetimes import to_date, to_datetime
from adapters.hl7v2.mappings.demographics import name_text
from adapters.hl7v2.parse import Message, Segment
from hub.fhir.systems import facility_identifier_system
from referral.rules import REFERRAL_CATEGORY, TASK_CODE_SYSTEM

# The sending HIS's own tracking Task: its RF1-1 status is the HIS's record, so it is not the
# hub's process-request Task, whose moves the referral service enforces (referral.states).
TASK_CODE = {"coding": [{"system": TASK_CODE_SYSTEM, "code": "fulfill"}]}
# RF1-1 (table 0283) -> (ServiceRequest.status, Task.status)
REFERRAL_STATUS = {"P": ("active", "requested"), "A": ("active", "accepted"),
                   "R": ("revoked", "rejected"), "E": ("revoked", "cancelled")}  # fmt: skip
PRIORITY = {"S": "stat", "A": "asap", "R": "routine", "U": "urgent", "T": "urgent"}  # 0280, 0485
# ORC-1 (table 0119) -> ServiceRequest.status
ORDER_STATUS = {"NW": "active", "OK": "active", "SC": "active", "XO": "active", "CA": "revoked",
                "CR": "revoked", "DC": "revoked", "OC": "revoked", "OD": "revoked",
                "HD": "on-hold", "OH": "on-hold", "CM": "completed", "RE": "completed"}  # fmt: skip


def map_referral(message: Message, context: MappingContext) -> Mapped:
    rf1 = message.first("RF1")
    if rf1 is None:
        raise content_error("the message has no RF1 segment", "RF1", ErrorCode.SEGMENT_SEQUENCE)
    facility = context.facility_code
    bundle = BundleBuilder(context)
    patient_ref, encounter_ref = subject_references(bundle, message)
    if patient_ref is None:
        raise content_error("the message has no PID segment", "PID", ErrorCode.SEGMENT_SEQUENCE)
    identifiers = _referral_identifiers(rf1, message, facility)
    request_status, task_status = REFERRAL_STATUS.get(rf1.get(1), ("active", "requested"))
    if message.trigger_event == "I14":
        request_status, task_status = "revoked", "cancelled"
    request: Element = {
        "identifier": identifiers,
        "status": request_status,
        "intent": "order",
        "category": [REFERRAL_CATEGORY],
        "subject": reference(patient_ref),
    }
    if encounter_ref:
        request["encounter"] = reference(encounter_ref)
    if rf1.get(3):
        request["code"] = cwe(
            rf1, 3, facility, default_system="http://terminology.hl7.org/CodeSystem/v2-0281"
        )
    if rf1.get(2, 1) in PRIORITY:
        request["priority"] = PRIORITY[rf1.get(2, 1)]
    reasons = [
        *cwe_list(rf1, 10, facility),
        *(c for dg1 in message.all("DG1") if (c := cwe(dg1, 3, facility))),
    ]
    if reasons:
        request["reasonCode"] = reasons
    authored = to_datetime(rf1.get(9) or rf1.get(7), "RF1-9")
    if authored:
        request["authoredOn"] = authored
    period = {k: v for k, v in (("start", to_date(rf1.get(7), "RF1-7")),
                                ("end", to_date(rf1.get(8), "RF1-8"))) if v}  # fmt: skip
    if period:
        request["occurrencePeriod"] = period
    requester, performer = _providers(message)
    if requester:
        request["requester"] = {"display": requester}
    if performer:
        request["performer"] = [{"display": performer}]
    request_ref = bundle.put("ServiceRequest", request, identifiers[0])
    task_key = {"system": facility_identifier_system(facility, "referral-task"),
                "value": identifiers[0]["value"]}  # fmt: skip
    task: Element = {
        "identifier": [task_key],
        "status": task_status,
        "intent": "order",
        "code": TASK_CODE,
        "focus": reference(request_ref),
        "for": reference(patient_ref),
    }
    if authored:
        task["authoredOn"] = authored
    if requester:
        task["requester"] = {"display": requester}
    if performer:
        task["owner"] = {"display": performer}
    bundle.put("Task", task, task_key)
    return bundle.build()


def _referral_identifiers(rf1: Segment, message: Message, facility: str) -> list[Element]:
    out: list[Element] = []
    for n, kind in ((6, "referral"), (11, "external-referral")):
        value = rf1.get(n)
        if value:
            out.append({"system": facility_identifier_system(facility, kind), "value": value})
    if not out:
        fallback = f"msg-{message.control_id}"
        out.append({"system": facility_identifier_system(facility, "referral"), "value": fallback})
    return out


def _providers(message: Message) -> tuple[str, str]:
    """(referring, referred-to) provider: the organisation or person named in PRD."""
    found = {"RP": "", "RT": ""}
    for prd in message.all("PRD"):
        role = prd.get(1)
        if role in found and not found[role]:
            found[role] = (
                prd.get(10) or prd.get(4, 4) or prd.get(4, 9) or name_text(prd, 2, first=1)
            )
    return found["RP"], found["RT"]


def map_order(message: Message, context: MappingContext) -> Mapped:
    """OMG^O19: a ServiceRequest per ORC with its OBR."""
    facility = context.facility_code
    bundle = BundleBuilder(context)
    patient_ref, encounter_ref = subject_references(bundle, message)
    if patient_ref is None:
        raise content_error("the message has no PID segment", "PID", ErrorCode.SEGMENT_SEQUENCE)
    orc: Segment | None = None
    count = 0
    for segment in message.segments:
        if segment.name == "ORC":
            orc = segment
        elif segment.name == "OBR" and orc is not None:
            count += 1
            request = _order(orc, segment, message, facility, count)
            request["subject"] = reference(patient_ref)
            if encounter_ref:
                request["encounter"] = reference(encounter_ref)
            bundle.put("ServiceRequest", request, request["identifier"][0])
    if not count:
        raise content_error("an OMG^O19 needs an ORC and an OBR", "ORC", ErrorCode.SEGMENT_SEQUENCE)
    return bundle.build()


def _order(orc: Segment, obr: Segment, message: Message, facility: str, index: int) -> Element:
    filler = orc.get(3) or obr.get(3)
    placer = orc.get(2) or obr.get(2)
    identifiers = order_identifiers(facility, filler, placer, f"msg-{message.control_id}-{index}")
    request: Element = {
        "identifier": identifiers,
        "status": ORDER_STATUS.get(orc.get(1), "active"),
        "intent": "order",
    }
    group = orc.get(4)
    if group:
        system = facility_identifier_system(facility, "order-group")
        request["requisition"] = {"system": system, "value": group}
    code = cwe(obr, 4, facility)
    if code:
        request["code"] = code
    tq1 = message.first("TQ1")
    priority = PRIORITY.get(tq1.get(9)) if tq1 is not None else None
    if priority:
        request["priority"] = priority
    authored = to_datetime(orc.get(9), "ORC-9")
    if authored:
        request["authoredOn"] = authored
    requester = name_text(orc, 12) or name_text(obr, 16)
    if requester:
        request["requester"] = {"display": requester}
    when = to_datetime(obr.get(7), "OBR-7")
    if when:
        request["occurrenceDateTime"] = when
    return request


REFERRAL_EVENTS: dict[str, Callable[[Message, MappingContext], Mapped]] = {
    event: map_referral for event in ("I12", "I13", "I14")
}
ORDER_EVENTS: dict[str, Callable[[Message, MappingContext], Mapped]] = {"O19": map_order}
