"""The durable inbox: frames are committed before their ACK leaves, many per commit.

``store_frames`` writes one batch in one transaction: accepted messages with
``INSERT .. ON CONFLICT DO NOTHING`` on (facility, MSH-10), so a repeated message keeps its
first row and gets that row's ACK back; refused ones as plain rows, and one refused because its
connection may not send for MSH-4 (``sender.py``) with an audit record in the same transaction.
``InboxWriter`` is the group commit: every connection's frames queue up, one thread commits
whatever is waiting, and each ACK is released only after the commit that holds its message.
While a commit runs the next batch gathers, so batches grow with load and a lone message waits
for no one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import insert, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from adapters.hl7v2.intake import Received
from adapters.hl7v2.models import InboxRow
from adapters.hl7v2.processing import facility_actor
from hub.audit.service import AuditEntry, record_access
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.db import session_scope, writer_turn
from hub.security.fields import FieldCipher

log = logging.getLogger("hub.hl7v2.inbox")
MAX_BATCH = 500


@dataclass(frozen=True)
class Stored:
    ack: str  # the ACK to send: this frame's own, or the original one for a duplicate
    duplicate: bool


def _row(frame: Received, cipher: FieldCipher) -> dict[str, object]:
    return {
        "received_at": frame.received_at,
        "facility_code": frame.facility_code,
        "sending_facility": frame.sending_facility,
        "control_id": frame.control_id,
        "dedup_id": frame.control_id if frame.accepted else None,
        "message_type": frame.message_type,
        "version": frame.version,
        "charset": frame.charset,
        "peer": frame.peer[:128],
        "status": frame.status.value,
        "ack_code": frame.ack_code,
        "ack": frame.ack,
        "raw": cipher.seal_bytes(frame.raw),
        "attempts": 0,
        "resources": "",
        "error": frame.error,
    }


def store_frames(session: Session, cipher: FieldCipher, frames: list[Received]) -> list[Stored]:
    """Write a batch (the caller commits); answers in the frames' order."""
    accepted = [f for f in frames if f.accepted]
    refused = [f for f in frames if not f.accepted and not _audited(f)]
    if refused:
        session.execute(insert(InboxRow), [_row(f, cipher) for f in refused])
    for frame in frames:
        if _audited(frame):
            keep = insert(InboxRow).returning(InboxRow.id)
            row_id = session.execute(keep, _row(frame, cipher)).scalar_one()
            record_access(session, _refusal_entry(frame, row_id))
    inserted: set[tuple[str | None, str]] = set()
    if accepted:
        dialect = session.get_bind().dialect.name
        upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            upsert(InboxRow)
            .on_conflict_do_nothing(index_elements=["facility_code", "dedup_id"])
            .returning(InboxRow.facility_code, InboxRow.dedup_id)
        )
        # executemany with RETURNING ("insertmanyvalues"): one round trip per few hundred rows;
        # only the rows actually inserted come back, named by their key.
        rows = session.execute(statement, [_row(f, cipher) for f in accepted]).all()
        inserted = {(facility, str(dedup)) for facility, dedup in rows}
    originals = _original_acks(session, [f for f in accepted if _key(f) not in inserted])
    answers: list[Stored] = []
    # A copy in the same batch as the message it repeats gets the ACK stored for that one,
    # byte for byte, as a copy arriving later does.
    stored_here: dict[tuple[str | None, str], str] = {}
    for frame in frames:
        key = _key(frame)
        if frame.accepted and key in inserted and key not in stored_here:
            stored_here[key] = frame.ack
            answers.append(Stored(frame.ack, duplicate=False))
        elif frame.accepted:
            original = stored_here.get(key) or originals.get(key, frame.ack)
            answers.append(Stored(original, duplicate=True))
        else:
            answers.append(Stored(frame.ack, duplicate=False))
    return answers


def _audited(frame: Received) -> bool:
    """A refusal that is a security event, audited with the refused message's row."""
    return frame.sender_refusal is not None or frame.report_refusal is not None


def _refusal_entry(frame: Received, row_id: int) -> AuditEntry:
    """A sender refused for MSH-4 is nobody authenticated: the actor is the source address
    only. A report on another facility's booking came from its (authenticated) facility."""
    if frame.sender_refusal is not None:
        actor = Actor.build(
            client_id="hl7v2-sender",
            facility="-",
            role=Role.facility_system,
            scope="",
            source_address=frame.peer.rpartition(":")[0] or frame.peer,
        )
        text = f"HL7 v2 sender refused: {frame.sender_refusal}"
    else:
        actor = facility_actor(frame.facility_code or "-")
        text = f"HL7 v2 report refused: {frame.report_refusal}"
    resources = [f"HL7v2Message/{row_id}"]
    return AuditEntry(actor, "receive", "HL7v2Message", resources, outcome="4", outcome_text=text)


def _key(frame: Received) -> tuple[str | None, str]:
    return frame.facility_code, frame.control_id


def _original_acks(session: Session, frames: list[Received]) -> dict[tuple[str | None, str], str]:
    if not frames:
        return {}
    keys = {_key(f) for f in frames}
    rows = session.execute(
        select(InboxRow.facility_code, InboxRow.dedup_id, InboxRow.ack).where(
            tuple_(InboxRow.facility_code, InboxRow.dedup_id).in_(list(keys))
        )
    ).all()
    return {(facility, str(dedup)): ack for facility, dedup, ack in rows}


def commit_frames(
    cipher: FieldCipher,
    frames: list[Received],
    on_committed: Callable[[set[str]], None] | None = None,
) -> list[Stored]:
    """One transaction for a batch; then tell the dispatcher which facilities have new work."""
    with writer_turn(urgent=True), session_scope() as session:  # the ACK waits on this commit
        answers = store_frames(session, cipher, frames)
    if on_committed is not None:
        fresh = {
            f.facility_code
            for f, a in zip(frames, answers, strict=True)
            if f.accepted and not a.duplicate and f.facility_code
        }
        if fresh:
            try:
                on_committed(fresh)
            except Exception:  # the rows are safe; the sweeper will find them
                log.exception("could not hand new messages to the workers; they wait in the inbox")
    return answers


class InboxWriter:
    """Group commit for the listener: ``await submit(frame)`` returns once the frame is durable."""

    def __init__(
        self,
        cipher: FieldCipher,
        on_committed: Callable[[set[str]], None] | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.cipher = cipher
        self.on_committed = on_committed
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Received, asyncio.Future[Stored]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.frames = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="inbox-writer")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def submit(self, frame: Received) -> Stored:
        self.start()
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        await self._queue.put((frame, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            frames = [frame for frame, _ in batch]
            try:
                answers = await asyncio.to_thread(
                    commit_frames, self.cipher, frames, self.on_committed
                )
            except Exception as exc:  # nothing was stored: every waiting sender gets an AR
                log.exception("inbox commit failed for %d frames", len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            self.frames += len(batch)
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)
