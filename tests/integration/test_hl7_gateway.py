"""The MLLP front door end to end: Chinese feeds, duplicates, refusals, order, replay, the log API.

A gateway runs in the test process (processing in-process, as ``hub demo`` does) against the
test database; results are read back through the FHIR store and the message-log API.
"""

from __future__ import annotations

import itertools
import socket
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from adapters.hl7v2.models import MessageStatus
from adapters.hl7v2.parse import parse_message
from adapters.hl7v2.processing import facility_actor
from hub.auth.roles import Role
from hub.db import session_scope
from hub.fhir.conditional import matching
from hub.fhir.store import FhirStore
from hub.fhir.systems import facility_patient_system
from hub.mpi.matching.identifiers import check_digit
from hub.mpi.models import SourceRow
from hub.security.fields import get_cipher
from tests.integration.hl7_harness import (
    inbox_rows,
    make_dead_letter,
    msa,
    running_gateway,
    wait_processed,
)
from tests.live import LiveHub, TokenFactory

FACILITY, HL7_NAME = "H001", "YC_H001"
_numbers = itertools.count(1)


def resident_id(body17: str = "42050219900101123") -> str:
    return body17 + check_digit(body17)


def adt(
    event: str = "A04",
    *,
    mrn: str | None = None,
    name: str = "王^小明",
    birth: str = "19900101",
    charset: str = "UNICODE UTF-8",
    facility: str = HL7_NAME,
    control_id: str | None = None,
    pid3: str | None = None,
    extra: str = "",
) -> tuple[str, str, str]:
    """(message text, control id, MRN) of an ADT message in the shape Chinese HIS feeds send."""
    number = next(_numbers)
    mrn = mrn or f"MRN{time.time_ns() % 10**9}{number}"
    control_id = control_id or f"CTL{time.time_ns()}{number}"
    identifiers = pid3 if pid3 is not None else f"{mrn}^^^{HL7_NAME}^MR~{resident_id()}^^^CHN^NI"
    text = (
        f"MSH|^~\\&|HIS|{facility}|HUB|YICHANG|20261126101500||ADT^{event}^ADT_A01|{control_id}|"
        f"P|2.5|||||CHN|{charset}\r"
        f"EVN|{event}|20261126101500\r"
        f"PID|1||{identifiers}||{name}||{birth}|M|||西陵区夷陵大道1号^^宜昌市^湖北省^443000"
        f"||13800001111\r"
        f"PV1|1|O|内科门诊^^^{HL7_NAME}||||||||||||||||V{number}\r{extra}"
    )
    return text, control_id, mrn


def patients_by_mrn(mrn: str) -> list[dict[str, Any]]:
    """Every Patient the facility holds under this MRN (one, unless something wrote twice)."""
    with session_scope() as session:
        store = FhirStore(session, facility_actor(FACILITY), get_cipher())
        found = matching(store, "Patient", f"identifier={facility_patient_system(FACILITY)}|{mrn}")
        return [stored.as_dict() for stored in found]


def patient_by_mrn(mrn: str) -> dict[str, Any] | None:
    found = patients_by_mrn(mrn)
    return found[0] if found else None


def test_utf8_and_gb18030_names_arrive_intact(database: str) -> None:
    utf8, utf8_id, utf8_mrn = adt(name="欧阳^娜娜")
    gb, gb_id, gb_mrn = adt(name="阿依古丽·买买提^", charset="GB 18030-2000")
    with running_gateway() as gateway:
        acks = gateway.send(utf8.encode("utf-8"), gb.encode("gb18030"))
        assert [msa(a)[0] for a in acks] == ["AA", "AA"]
        wait_processed(FACILITY, {utf8_id, gb_id})
    first, second = patient_by_mrn(utf8_mrn), patient_by_mrn(gb_mrn)
    assert first is not None and second is not None
    assert first["name"][0]["family"] == "欧阳" and first["name"][0]["given"] == ["娜娜"]
    assert second["name"][0]["text"] == "阿依古丽·买买提"  # one component: the index splits it
    systems = {i["system"] for i in first["identifier"]}
    assert facility_patient_system(FACILITY) in systems and len(systems) >= 2


def test_a_repeated_message_gets_its_first_ack_and_is_processed_once(database: str) -> None:
    text, control_id, mrn = adt()
    with running_gateway() as gateway:
        first = gateway.send(text.encode())[0]
        wait_processed(FACILITY, {control_id})
        again = gateway.send(text.encode(), text.encode())
    assert again == [first, first]
    rows = inbox_rows(lambda r: r.control_id == control_id)
    assert len(rows) == 1 and rows[0].status == MessageStatus.PROCESSED.value
    patient = patient_by_mrn(mrn)
    assert patient is not None and patient["meta"]["versionId"] == "1"


@pytest.mark.parametrize(
    ("change", "ack_code", "location"),
    [
        ({"facility": "NOT_REGISTERED"}, "AR", "MSH^1^4"),
        ({"pid3": ""}, "AE", "PID^1^3"),
        ({"birth": "19901345"}, "AE", "PID^1^7"),
        ({"event": "A99"}, "AR", "MSH^1^9"),
        ({"charset": "EBCDIC"}, "AR", "MSH^1^18"),
    ],
)
def test_bad_messages_get_ae_or_ar_with_err_and_are_kept(
    database: str, change: dict[str, str], ack_code: str, location: str
) -> None:
    text, control_id, _ = adt(**change)
    with running_gateway() as gateway:
        ack = gateway.send(text.encode())[0]
    code, echoed = msa(ack)
    assert (code, echoed) == (ack_code, control_id)
    err = parse_message(ack.decode()).first("ERR")
    assert err is not None and err.field(2) == location and err.get(8)
    rows = inbox_rows(lambda r: r.control_id == control_id)
    assert len(rows) == 1 and rows[0].status == MessageStatus.REJECTED.value
    assert get_cipher().open_bytes(rows[0].raw) == text.encode()


def test_a_wrong_byte_encoding_is_refused(database: str) -> None:
    text, control_id, _ = adt(name="张^伟")  # declares UTF-8 ...
    with running_gateway() as gateway:
        ack = gateway.send(text.encode("gb18030"))[0]  # ... sends GB 18030
    assert msa(ack) == ("AR", control_id)
    assert "MSH^1^18" in ack.decode()


def test_garbage_and_truncated_frames_are_kept_and_the_connection_keeps_serving(
    database: str,
) -> None:
    good, control_id, _ = adt()
    before = len(inbox_rows())
    with running_gateway() as gateway, socket.create_connection(("127.0.0.1", gateway.port)) as s:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")  # not MLLP at all
        s.sendall(b"\x0bMSH|^~\\&|truncated, never ended")  # a frame without its end bytes
        s.sendall(b"\x0b" + good.encode() + b"\x1c\x0d")
        s.settimeout(20)
        reply = b""
        while not reply.endswith(b"\x1c\x0d"):
            reply += s.recv(65536)
        assert msa(reply.strip(b"\x0b\x1c\x0d")) == ("AA", control_id)
        deadline = time.monotonic() + 10
        while len(inbox_rows()) < before + 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    kept = inbox_rows()[before:]
    refused = [r for r in kept if r.status == MessageStatus.REJECTED.value]
    assert len(refused) == 2 and all(r.error for r in refused)


def test_messages_of_a_facility_apply_in_order(database: str) -> None:
    first, first_id, mrn = adt("A04", name="李^明")
    update_, update_id, _ = adt("A08", mrn=mrn, name="李^明华")
    with running_gateway() as gateway:
        gateway.send(first.encode(), update_.encode())
        wait_processed(FACILITY, {first_id, update_id})
    patient = patient_by_mrn(mrn)
    assert patient is not None and patient["name"][0]["given"] == ["明华"]


def test_a40_merge_retires_the_old_record(database: str) -> None:
    old, old_id, old_mrn = adt("A04", name="赵^云")
    new, new_id, new_mrn = adt("A04", name="赵^云")
    merge, merge_id, _ = adt("A40", mrn=new_mrn, name="赵^云",
                             extra=f"MRG|{old_mrn}^^^{HL7_NAME}^MR\r")  # fmt: skip
    with running_gateway() as gateway:
        acks = gateway.send(old.encode(), new.encode(), merge.encode())
        assert [msa(a)[0] for a in acks] == ["AA", "AA", "AA"]
        wait_processed(FACILITY, {old_id, new_id, merge_id})
    retired = patient_by_mrn(old_mrn)
    assert retired is not None and retired["active"] is False
    assert retired["link"][0]["type"] == "replaced-by"
    with session_scope() as session:  # the retired record left the patient index
        sources = session.scalars(
            select(SourceRow.source_id).where(SourceRow.facility == FACILITY)
        ).all()
    assert old_mrn not in sources and new_mrn in sources


def test_dead_letters_replay_through_the_api(
    database: str, live_hub: LiveHub, make_token: TokenFactory
) -> None:
    text, control_id, mrn = adt()
    with running_gateway() as gateway:
        gateway.send(text.encode())
        (row,) = wait_processed(FACILITY, {control_id})
        make_dead_letter(row.id)
        operator = {"Authorization": f"Bearer {make_token(role=Role.operator, facility='HUB')}"}
        with httpx.Client(base_url=live_hub.base_url, headers=operator, timeout=30) as http:
            listed = http.get("/messages", params={"status": "dead", "facility": FACILITY})
            assert listed.status_code == 200
            assert row.id in [m["id"] for m in listed.json()["messages"]]
            replay = http.post("/messages/replay", json={"ids": [row.id], "reason": "test"})
            assert replay.status_code == 200 and replay.json()["replayed"] == [row.id]
            # the API process has no listener: the gateway's sweeper picks the replay up
            (after,) = wait_processed(FACILITY, {control_id})
            assert after.status == MessageStatus.PROCESSED.value
            shown = http.get(f"/messages/{row.id}").json()
            assert shown["ack"].startswith("MSH|") and "王^小明" in shown["raw"]
            assert any(r.startswith("Patient/") for r in shown["resources"])
        again = http_for(live_hub, make_token(role=Role.facility_system, facility="H002"))
        assert again.get(f"/messages/{row.id}").status_code == 404  # another facility's message
        again.close()
    assert patient_by_mrn(mrn) is not None


def http_for(live_hub: LiveHub, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=live_hub.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
