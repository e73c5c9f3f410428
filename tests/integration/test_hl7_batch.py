"""A facility's waiting messages are processed as one batch: all good, they go together; one bad
message among them fails alone (dead letter), its neighbours are processed, in order, each
written once, each with one attempt row.

The bad message is made bad by its mapping raising (the intake already refuses what it can
check, and the mappings take whatever passed it): what is tested is how processing isolates a
failure, whatever the failure."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from adapters.hl7v2 import processing
from adapters.hl7v2.errors import Hl7ContentError
from adapters.hl7v2.gateway import facilities_by_sending_name
from adapters.hl7v2.inbox import commit_frames
from adapters.hl7v2.inbox_queue import INBOX
from adapters.hl7v2.intake import Intake, Sender
from adapters.hl7v2.models import InboxAttemptRow, InboxRow, MessageStatus
from hub.db import session_scope
from hub.region.facilities import load_facilities
from hub.security.fields import get_cipher
from hub.settings import get_settings
from hub.work_queues import install_dispatcher
from tests.integration.hl7_harness import IdleDispatcher
from tests.integration.test_hl7_gateway import FACILITY, adt, patients_by_mrn


def _queue(*texts: str) -> list[int]:
    """The messages checked and committed to the inbox as the listener does; their row ids."""
    intake = Intake(
        facilities_by_sending_name(load_facilities()), get_settings().hl7_default_charset
    )
    frames = [intake.check(text.encode(), Sender("127.0.0.1:1")) for text in texts]
    assert all(frame.accepted for frame in frames)
    commit_frames(get_cipher(), frames)
    controls = [frame.control_id for frame in frames]
    with session_scope() as session:
        found = dict(
            session.execute(
                select(InboxRow.control_id, InboxRow.id).where(InboxRow.control_id.in_(controls))
            ).all()
        )
    return [found[control] for control in controls]


def _outcomes(ids: list[int]) -> list[tuple[str, int]]:
    """Each message's status and how many attempt rows it has."""
    with session_scope() as session:
        rows = {r.id: r for r in session.scalars(select(InboxRow).where(InboxRow.id.in_(ids)))}
        attempts = session.scalars(
            select(InboxAttemptRow.message_id).where(InboxAttemptRow.message_id.in_(ids))
        ).all()
        return [(rows[i].status, attempts.count(i)) for i in ids]


def _drain() -> None:
    """What the worker does (the in-process dispatcher may have drained some already)."""
    for _ in range(20):
        if not processing.process_facility(FACILITY).more:
            return


def test_good_messages_go_together_and_each_is_written_once(database: str) -> None:
    first, _, mrn = adt("A04", name="孙^立")
    update_, _, _ = adt("A08", mrn=mrn, name="孙^立新")
    other, _, other_mrn = adt("A04", name="周^敏")
    ids = _queue(first, update_, other)
    _drain()
    assert _outcomes(ids) == [(MessageStatus.PROCESSED.value, 1)] * 3
    [patient] = patients_by_mrn(mrn)
    assert patient["name"][0]["given"] == ["立新"] and patient["meta"]["versionId"] == "2"
    [second] = patients_by_mrn(other_mrn)
    assert second["meta"]["versionId"] == "1"


def test_a_bad_message_fails_alone_and_its_neighbours_are_written_once(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, _, before_mrn = adt("A04", name="钱^一")
    bad, bad_control_id, bad_mrn = adt("A04", name="钱^二")
    after, _, after_mrn = adt("A04", name="钱^三")
    apply_message, together = processing.apply_message, processing._process_together
    tried_together: list[int] = []

    def failing_for_the_bad_one(session: Any, cipher: Any, row: InboxRow, settings: Any) -> Any:
        if row.control_id == bad_control_id:
            raise Hl7ContentError("PID-7 is not a date", location="PID-7")
        return apply_message(session, cipher, row, settings)

    def spied(session: Any, cipher: Any, rows: list[InboxRow], *args: Any) -> bool:
        tried_together.append(len(rows))
        return together(session, cipher, rows, *args)

    monkeypatch.setattr(processing, "apply_message", failing_for_the_bad_one)
    monkeypatch.setattr(processing, "_process_together", spied)
    ids = _queue(before, bad, after)
    _drain()
    assert any(n > 1 for n in tried_together)  # the together pass met the bad message
    assert _outcomes(ids) == [
        (MessageStatus.PROCESSED.value, 1),
        (MessageStatus.DEAD.value, 1),
        (MessageStatus.PROCESSED.value, 1),
    ]
    # The pass that tried all three together left nothing: each good record is at version 1.
    assert [p["meta"]["versionId"] for p in patients_by_mrn(before_mrn)] == ["1"]
    assert [p["meta"]["versionId"] for p in patients_by_mrn(after_mrn)] == ["1"]
    assert patients_by_mrn(bad_mrn) == []


def test_a_facility_turn_ends_with_work_left_and_it_goes_again(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One turn (``max_seconds=0``: one batch) leaves the rest waiting and says so; the next
    turn processes it, in order. The worker then queues the facility behind the others."""
    previous = install_dispatcher(INBOX, IdleDispatcher())  # nothing drains behind the test
    if previous is not None:
        previous.close()
    try:
        monkeypatch.setattr(get_settings(), "inbox_batch_size", 1)
        sender = "YC_H093"
        texts = [adt("A04", name=f"冯^{n}", facility=sender)[0] for n in "一二三"]
        ids = _queue(*texts)
        turn = processing.drain_facility("H093", max_seconds=0)
        assert (turn.processed, turn.more) == (1, True)
        assert [status for status, _ in _outcomes(ids)] == [
            MessageStatus.PROCESSED.value, MessageStatus.RECEIVED.value,
            MessageStatus.RECEIVED.value,
        ]  # fmt: skip
        rest = processing.drain_facility("H093")
        assert (rest.processed, rest.more) == (2, False)
        assert _outcomes(ids) == [(MessageStatus.PROCESSED.value, 1)] * 3
    finally:
        install_dispatcher(INBOX, None)
