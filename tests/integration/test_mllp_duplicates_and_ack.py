"""A repeated MSH-10 in every path that can see one, and the ACK sent only after the commit.

Duplicates: the same message again on the same connection, on another connection, on two
connections at once, after the gateway restarts, and while the first still waits to be
processed. Each time the sender gets the first message's ACK back (byte for byte) and the inbox
keeps one row, processed once.

ACK after commit, with real database conditions rather than timing: while another connection
holds the lock the inbox commit needs, no ACK leaves, and once it arrives its row is committed
(read from another connection at that moment); a commit the database refuses (a trigger) gets
AR 207, never AA, and nothing is kept.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, select, text
from sqlalchemy.engine import make_url

from adapters.hl7v2.client import MllpClient, send_messages
from adapters.hl7v2.models import InboxAttemptRow, InboxRow, MessageStatus
from adapters.hl7v2.parse import parse_message
from adapters.hl7v2.processing import drain_facility
from tests.integration.hl7_harness import (
    IdleDispatcher,
    msa,
    observed_rows,
    running_gateway,
    wait_processed,
)
from tests.integration.observer import committed, observer_engine
from tests.integration.test_hl7_gateway import FACILITY, adt, patients_by_mrn


def _the_one_row(control_id: str) -> InboxRow:
    found = observed_rows(lambda r: r.control_id == control_id)
    assert len(found) == 1, f"{len(found)} inbox rows for one MSH-10"
    return found[0]


def _processed_once(control_id: str, mrn: str) -> None:
    """The message was processed by one attempt and wrote its Patient once."""
    row = _the_one_row(control_id)
    assert row.status == MessageStatus.PROCESSED.value
    attempts = committed(select(InboxAttemptRow).where(InboxAttemptRow.message_id == row.id))
    assert [a.outcome for a in attempts] == ["processed"]
    (patient,) = patients_by_mrn(mrn)
    assert patient["meta"]["versionId"] == "1"


def _send_at_once(port: int, payload: bytes, copies: int) -> list[bytes]:
    """The same message on ``copies`` connections opened first, then sent together."""

    async def run() -> list[bytes]:
        clients = [MllpClient("127.0.0.1", port) for _ in range(copies)]
        for client in clients:
            await client.connect()
        try:
            return list(await asyncio.gather(*(c.send(payload) for c in clients)))
        finally:
            for client in clients:
                await client.close()

    return asyncio.run(run())


# -- duplicates ------------------------------------------------------------------------------


def test_a_duplicate_on_the_same_connection_gets_the_first_ack(database: str) -> None:
    message, control_id, mrn = adt()
    with running_gateway() as gateway:
        first, again = gateway.send(message.encode(), message.encode())
        assert msa(first) == ("AA", control_id)
        assert again == first
        wait_processed(FACILITY, {control_id})
    _processed_once(control_id, mrn)


def test_a_duplicate_on_another_connection_gets_the_first_ack(database: str) -> None:
    message, control_id, mrn = adt()
    with running_gateway() as gateway:
        (first,) = gateway.send(message.encode())
        (again,) = gateway.send(message.encode())  # a connection of its own
        assert msa(first) == ("AA", control_id) and again == first
        wait_processed(FACILITY, {control_id})
    _processed_once(control_id, mrn)


def test_a_duplicate_sent_at_the_same_moment_is_kept_once(database: str) -> None:
    message, control_id, mrn = adt()
    with running_gateway() as gateway:
        acks = _send_at_once(gateway.port, message.encode(), copies=4)
        wait_processed(FACILITY, {control_id})
    assert [msa(ack) for ack in acks] == [("AA", control_id)] * 4
    # Every copy gets the stored ACK byte for byte, also those committed in the same
    # group-commit batch as the first (inbox.store_frames answers them with the batch's own).
    assert set(acks) == {_the_one_row(control_id).ack.encode()}
    _processed_once(control_id, mrn)


def test_a_duplicate_after_the_gateway_restarts_gets_the_first_ack(database: str) -> None:
    message, control_id, mrn = adt()
    with running_gateway() as gateway:
        (first,) = gateway.send(message.encode())
        wait_processed(FACILITY, {control_id})
    with running_gateway() as restarted:
        (again,) = restarted.send(message.encode())
    assert msa(first) == ("AA", control_id) and again == first
    _processed_once(control_id, mrn)


def test_a_duplicate_while_the_first_waits_to_be_processed(database: str) -> None:
    message, control_id, mrn = adt()
    with running_gateway(dispatcher=IdleDispatcher()) as gateway:  # nothing processes
        (first,) = gateway.send(message.encode())
        assert _the_one_row(control_id).status == MessageStatus.RECEIVED.value
        (again,) = gateway.send(message.encode())
    assert msa(first) == ("AA", control_id) and again == first
    row = _the_one_row(control_id)
    assert row.status == MessageStatus.RECEIVED.value and row.attempts == 0
    drain_facility(FACILITY)
    _processed_once(control_id, mrn)


# -- the ACK waits for the commit ------------------------------------------------------------


@contextmanager
def _inbox_writes_held() -> Iterator[None]:
    """Another connection holds what an inbox commit needs: SQLite's write lock, or on
    PostgreSQL a lock on the inbox table that lets reads through and blocks inserts."""
    url = make_url(os.environ["HUB_DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(str(url.database), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
        return
    with observer_engine().connect() as connection:
        connection.execute(text(f"LOCK TABLE {InboxRow.__tablename__} IN EXCLUSIVE MODE"))
        try:
            yield
        finally:
            connection.rollback()


def test_no_ack_leaves_before_its_message_is_committed(database: str) -> None:
    message, control_id, _ = adt()
    answer: dict[str, object] = {}

    def send() -> None:
        (ack,) = send_messages("127.0.0.1", gateway.port, [message.encode()], timeout=60)
        # the moment the ACK is in: is its message committed, as another connection sees it?
        answer["rows"] = len(observed_rows(lambda r: r.control_id == control_id))
        answer["ack"] = ack

    with running_gateway(dispatcher=IdleDispatcher()) as gateway:
        sender = threading.Thread(target=send, daemon=True)
        with _inbox_writes_held():
            sender.start()
            sender.join(2.0)  # the commit cannot complete, so neither may the ACK
            assert "ack" not in answer, "an ACK left while its message could not be committed"
            assert observed_rows(lambda r: r.control_id == control_id) == []
        sender.join(30)
    assert isinstance(answer.get("ack"), bytes) and msa(answer["ack"]) == ("AA", control_id)
    assert answer["rows"] == 1


@contextmanager
def _inbox_commit_refused(control_id: str) -> Iterator[None]:
    """A trigger that makes the database refuse the transaction storing this MSH-10: at commit
    on PostgreSQL (a deferred constraint trigger), at the insert on SQLite."""
    name = f"refuse_{uuid.uuid4().hex[:10]}"
    table = InboxRow.__tablename__
    assert control_id.isalnum()  # written into the DDL below
    with observer_engine().begin() as connection:
        _create_refusal(connection, name, table, control_id)
    try:
        yield
    finally:
        with observer_engine().begin() as connection:
            connection.execute(text(f"DROP TRIGGER {name}" + (
                f" ON {table}" if connection.dialect.name == "postgresql" else "")))  # fmt: skip
            if connection.dialect.name == "postgresql":
                connection.execute(text(f"DROP FUNCTION {name}()"))


def _create_refusal(connection: Connection, name: str, table: str, control_id: str) -> None:
    if connection.dialect.name == "sqlite":
        connection.execute(text(
            f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
            f"WHEN NEW.control_id = '{control_id}' "
            f"BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"))  # fmt: skip
        return
    connection.execute(text(
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"))  # fmt: skip
    connection.execute(text(
        f"CREATE CONSTRAINT TRIGGER {name} AFTER INSERT ON {table} "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
        f"WHEN (NEW.control_id = '{control_id}') EXECUTE FUNCTION {name}()"))  # fmt: skip


def test_a_commit_the_database_refuses_gets_ar_and_the_resend_is_kept(database: str) -> None:
    message, control_id, _ = adt()
    with running_gateway(dispatcher=IdleDispatcher()) as gateway:
        with _inbox_commit_refused(control_id):
            (refused,) = gateway.send(message.encode())
        assert msa(refused) == ("AR", control_id)  # never AA: nothing was stored
        err = parse_message(refused.decode()).first("ERR")
        assert err is not None and err.get(3) == "207"
        assert observed_rows(lambda r: r.control_id == control_id) == []
        (resent,) = gateway.send(message.encode())  # the sender's queue kept it
    assert msa(resent) == ("AA", control_id)
    assert _the_one_row(control_id).status == MessageStatus.RECEIVED.value
