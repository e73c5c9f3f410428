"""The hospital side of booking: the slot's owner hears of each hub booking (SIU over MLLP and a
rest-hook), and reports arrival and no-show back over MLLP (SIU S14/S26, ADT A04).

Outbound reuses test_outbound_delivery's receivers; inbound sends through a running gateway as
facility H001 (the slot's owner) and H002 (another hospital, which must change nothing).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from adapters.hl7v2.gateway import Hl7Gateway
from adapters.hl7v2.intake import Received
from adapters.hl7v2.listener import Peer
from adapters.hl7v2.parse import parse_message
from adapters.outbound.delivery import deliver_destination
from hub.audit.models import AuditRecord
from hub.auth.actor import SYSTEM_ACTOR
from hub.db import session_scope
from hub.fhir.store import FhirStore
from hub.fhir.systems import facility_patient_system
from hub.security.fields import get_cipher
from hub.settings import get_settings
from referral.scheduling import store_access
from referral.scheduling.fair_use_ledger import noshow_count
from referral.scheduling.resources import CAPACITY_EXTENSION
from tests.integration.hl7_harness import (
    IdleDispatcher,
    inbox_rows,
    make_dead_letter,
    msa,
    running_gateway,
    wait_processed,
)
from tests.integration.test_outbound_delivery import (  # noqa: F401 (fixtures)
    Hook,
    Receiver,
    _actor,
    _code,
    facility,
    hook,
    patient,
    receiver,
    recorder,
    rows,
    write,
)
from tests.integration.test_referral_loop import Person, adt, send

OWNER, OWNER_HL7 = "H001", "YC_H001"
OTHER, OTHER_HL7 = "H002", "YC_H002"
_numbers = itertools.count(1)


def slot(owner: str, hours_ahead: float) -> str:
    """A new Schedule (its own department) at ``owner``'s Location, and a Slot of 2 places."""
    schedule = f"sch-his-{uuid.uuid4().hex[:10]}"
    start = datetime.now(UTC) + timedelta(hours=hours_ahead)
    write(SYSTEM_ACTOR, {"resourceType": "Schedule", "id": schedule,
                         "actor": [{"reference": f"Location/{owner}-loc"}]})  # fmt: skip
    [made] = write(SYSTEM_ACTOR, {
        "resourceType": "Slot", "schedule": {"reference": f"Schedule/{schedule}"},
        "status": "free", "start": start.isoformat(),
        "end": (start + timedelta(minutes=15)).isoformat(),
        "extension": [{"url": CAPACITY_EXTENSION, "valuePositiveInt": 2}],
    })  # fmt: skip
    return str(made["id"])


def booking(slot_id: str, patient_id: str) -> dict[str, Any]:
    return {"resourceType": "Appointment", "status": "booked",
            "slot": [{"reference": f"Slot/{slot_id}"}],
            "participant": [{"actor": {"reference": f"Patient/{patient_id}"},
                             "status": "accepted"}]}  # fmt: skip


def current(appointment_id: str) -> dict[str, Any]:
    with session_scope() as session:
        store = FhirStore(session, SYSTEM_ACTOR, get_cipher(), get_settings().fhir_base_url)
        return store.read("Appointment", appointment_id).as_dict()


def test_each_change_of_a_hub_booking_reaches_the_slot_owner(
    receiver: Callable[..., Receiver],  # noqa: F811 (the fixture)
    hook: Hook,  # noqa: F811
) -> None:
    app, owner = _code(), _code()  # the booking app's facility and the hospital
    facility(app)
    listener = receiver("AA")
    base = f"http://127.0.0.1:{hook.port}/{owner}"
    facility(owner, mllp_port=listener.port, fhir_url=base)
    [pat] = write(_actor(app), patient(app, family="诸葛"))
    subscription = {"resourceType": "Subscription", "status": "active", "reason": "号源同步",
                    "criteria": f"Appointment?patient=Patient/{pat['id']}",
                    "channel": {"type": "rest-hook", "endpoint": f"{base}/notify",
                                "payload": "application/fhir+json"}}  # fmt: skip
    write(_actor(owner), subscription)
    first, third = slot(owner, 30), slot(owner, 78)
    [booked] = write(_actor(app), booking(first, pat["id"]))
    moved = {k: v for k, v in booked.items() if k != "meta"}
    # A move to another slot trips the ledger (place row kept: see README-his.md), so the
    # reschedule here is the slot's time moved by the hospital's desk.
    later = datetime.now(UTC) + timedelta(hours=31)
    times = {"start": later.isoformat(), "end": (later + timedelta(minutes=15)).isoformat()}
    [moved] = write(_actor(app), dict(moved, **times))
    write(_actor(app), dict({k: v for k, v in moved.items() if k != "meta"}, status="cancelled"))
    [other] = write(_actor(app), booking(third, pat["id"]))
    with session_scope() as session:
        FhirStore(session, _actor(app), get_cipher()).delete("Appointment", other["id"])

    v2 = [r for r in rows(owner) if r.event.startswith("SIU")]
    assert [r.event for r in v2] == ["SIU^S12", "SIU^S13", "SIU^S15", "SIU^S12", "SIU^S17"]
    report = deliver_destination(owner)
    assert report.dead == 0 and report.retrying == 0
    messages = [parse_message(t) for t in listener.received]
    assert [m.message_type for m in messages] == [r.event for r in v2]  # in order
    ids = [booked["id"]] * 3 + [other["id"]] * 2
    for message, appointment_id in zip(messages, ids, strict=True):
        sch = message.first("SCH")
        assert sch is not None
        assert (sch.get(1, 1), sch.get(1, 2)) == (appointment_id, "YICHANG-HUB")
        assert (sch.get(2, 1), sch.get(2, 2)) == (appointment_id, "YICHANG-HUB")
    assert [m.first("SCH").get(25) for m in messages] == [  # type: ignore[union-attr]
        "Booked", "Booked", "Cancelled", "Booked", "Deleted"]  # fmt: skip
    notified = [json.loads(body) for _, _, body in hook.requests]
    assert next(n["status"] for n in notified if n["id"] == booked["id"]) == "booked"
    assert {"cancelled"} <= {n["status"] for n in notified}


def _siu(sender: str, event: str, appointment_id: str, status: str = "") -> tuple[bytes, str]:
    control = f"HIS{time.time_ns() % 10**10}{next(_numbers)}"
    text = (
        f"MSH|^~\\&|HIS|{sender}|HUB|YICHANG|20261201090000||SIU^{event}^SIU_S12|{control}|P|2.5"
        f"|||||CHN|UNICODE UTF-8\r"
        + "|".join(["SCH", *[f"{appointment_id}^YICHANG-HUB"] * 2, *[""] * 22, status])
        + "\r"
        f"PID|1||X1^^^{sender}^MR||孙^立新\r"
    )
    return text.encode(), control


def _a04(mrn: str) -> tuple[bytes, str]:
    control = f"A04{time.time_ns() % 10**10}{next(_numbers)}"
    text = (
        f"MSH|^~\\&|HIS|{OWNER_HL7}|HUB|YICHANG|20261201090000||ADT^A04^ADT_A01|{control}|P|2.5"
        f"|||||CHN|UNICODE UTF-8\r"
        f"EVN|A04|20261201090000\r"
        f"PID|1||{mrn}^^^{OWNER_HL7}^MR||孙^立新||19820304|M\r"
        f"PV1|1|O|内科^^^{OWNER_HL7}||||||||||||||||V{control}\r"
    )
    return text.encode(), control


def test_the_owner_reports_arrival_and_noshow_another_hospital_changes_nothing() -> None:
    mrn = f"MRN-{uuid.uuid4().hex[:8]}"
    registered = {"resourceType": "Patient", "name": [{"family": "孙", "given": ["立新"]}],
                  "identifier": [{"system": facility_patient_system(OWNER), "value": mrn}],
                  "gender": "male", "birthDate": "1982-03-04"}  # fmt: skip
    [pat] = write(_actor(OWNER), registered)
    today = slot(OWNER, 0.05)  # the A04 registers the patient on this slot's day
    arrive, absent, foreign = (slot(OWNER, h) for h in (24 * 20, 24 * 21, 24 * 22))
    [on_day, booked, missed, attacked] = [
        write(SYSTEM_ACTOR, booking(s, pat["id"]))[0] for s in (today, arrive, absent, foreign)
    ]
    with session_scope() as session:
        person = store_access.person_key(session, pat["id"])
        noshows_before = noshow_count(session, person, datetime.now(UTC) - timedelta(days=90))

    arrived = _siu(OWNER_HL7, "S14", booked["id"], "Started")
    noshow = _siu(OWNER_HL7, "S26", missed["id"])
    forged = _siu(OTHER_HL7, "S26", attacked["id"])
    forged_arrival = _siu(OTHER_HL7, "S14", attacked["id"], "Started")
    unknown = _siu(OTHER_HL7, "S14", f"no-such-{uuid.uuid4().hex[:8]}", "Started")
    unreportable = _siu(OWNER_HL7, "S14", booked["id"], "Booked")
    visit = _a04(mrn)
    sent = (arrived, noshow, visit, forged, forged_arrival, unknown, unreportable)
    with running_gateway() as gateway:
        acks = gateway.send(*(raw for raw, _ in sent))
        codes = [msa(a)[0] for a in acks]
        assert codes == ["AA", "AA", "AA", "AE", "AE", "AE", "AE"], [a.decode() for a in acks]
        assert "SCH-25" in acks[6].decode()
        done = wait_processed(OWNER, {arrived[1], noshow[1], visit[1]})
    assert {r.status for r in done} == {"processed"}, [r.error for r in done]
    # Another hospital's reports, and one on no booking, are answered at once, all alike: AE,
    # ERR 204 at SCH-2 naming the rule; kept as refused (never processed) and audited.
    for ack in acks[3:6]:
        err = parse_message(ack.decode()).first("ERR")
        assert err is not None and err.field(2) == "SCH^1^2" and err.get(3, 1) == "204", ack
        assert err.get(8).startswith("not-slot-owner: "), ack
    assert len({a.split(b"\r")[2] for a in acks[3:6]}) == 1  # ERR: the same for all three
    refused = inbox_rows(lambda r: r.facility_code == OTHER and r.control_id in
                         {forged[1], forged_arrival[1], unknown[1]})  # fmt: skip
    assert (
        sorted((r.status, r.ack_code, r.attempts) for r in refused) == [("rejected", "AE", 0)] * 3
    )
    with session_scope() as session:
        audited = session.scalars(
            select(AuditRecord).where(
                AuditRecord.client_id == f"hl7v2:{OTHER}",
                AuditRecord.resources.in_([json.dumps([f"HL7v2Message/{r.id}"]) for r in refused]),
            )
        ).all()
    assert [(a.outcome, (a.outcome_text or "")[:43]) for a in audited] == [
        ("4", "HL7 v2 report refused: not-slot-owner: only")] * 3  # fmt: skip

    assert current(booked["id"])["status"] == "arrived"
    assert current(missed["id"])["status"] == "noshow"
    assert current(on_day["id"])["status"] == "arrived"  # the A04 on the booking's day
    untouched = current(attacked["id"])
    assert untouched["status"] == "booked" and untouched["meta"]["versionId"] == "1"
    after = current(booked["id"])
    assert {k: v for k, v in after.items() if k not in ("meta", "status")} == {
        k: v for k, v in booked.items() if k not in ("meta", "status")}  # fmt: skip
    with session_scope() as session:
        since = datetime.now(UTC) - timedelta(days=90)
        assert noshow_count(session, person, since) == noshows_before + 1


def test_a_failed_owner_check_asks_for_the_report_again_and_spares_other_messages() -> None:
    """The check reads the database; when it fails the report gets AR 207 (send it again) and
    nothing is stored for processing; a message that reports on no booking is not checked."""

    def broken(frame: Received) -> None:
        raise RuntimeError("the database is away")

    async def handle(payloads: list[bytes]) -> list[bytes | None]:
        gateway = Hl7Gateway(dispatcher=IdleDispatcher(), port=0, report_check=broken)
        try:
            return [await gateway.handle(p, Peer("127.0.0.1", 5000)) for p in payloads]
        finally:
            await gateway.writer.close()

    report, control = _siu(OWNER_HL7, "S14", "any-booking", "Started")
    visit, visit_control = _a04(f"MRN-{uuid.uuid4().hex[:8]}")  # a new patient: no booking
    answers = asyncio.run(handle([report, visit]))
    assert [msa(a or b"")[0] for a in answers] == ["AR", "AA"]
    err = parse_message((answers[0] or b"").decode()).first("ERR")
    assert err is not None and err.get(3, 1) == "207"
    [row] = inbox_rows(lambda r: r.facility_code == OWNER and r.control_id == control)
    assert (row.status, row.ack_code) == ("rejected", "AR")
    [waiting] = inbox_rows(lambda r: r.facility_code == OWNER and r.control_id == visit_control)
    assert waiting.status == "received"
    make_dead_letter(waiting.id)  # no worker ran here: leave nothing for another test's


def test_a_visit_opened_at_another_hospital_marks_no_arrival_at_the_owner() -> None:
    """ADT^A04 names no appointment: it registers a visit at the sender, which is AA and stored
    whoever sends it, and marks arrived only the sender's own bookings of that person that day."""
    person = Person()
    [pat] = write(_actor(OWNER), person.patient(OWNER))
    [booked] = write(SYSTEM_ACTOR, booking(slot(OWNER, 0.05), pat["id"]))
    send(adt(person, "A04", f"V{uuid.uuid4().hex[:10]}", facility=OTHER), facility=OTHER)
    assert current(booked["id"])["status"] == "booked"
    send(adt(person, "A04", f"V{uuid.uuid4().hex[:10]}", facility=OWNER), facility=OWNER)
    assert current(booked["id"])["status"] == "arrived"
