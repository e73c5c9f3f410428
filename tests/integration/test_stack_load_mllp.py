"""The load test's MLLP connection (bench/mllp_socket.py, under the Locust FacilityFeed user)
against the hub's own listener in this process: one persistent connection, ACK codes read from
MSA-1, and a broken connection reported, then reopened on the next send."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from adapters.hl7v2.ack import Envelope, build_ack
from adapters.hl7v2.listener import MllpServer, Peer
from adapters.hl7v2.parse import parse_message

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from hl7_data import feed
from mllp_socket import BlockingMllpConnection, MllpSocketError, ack_code


async def _ack_all_but_lab_results(payload: bytes, peer: Peer) -> bytes:
    """AA for ADT and SIU, AE for ORU, as the hub's ACK builder writes them."""
    text = payload.decode("utf-8", "replace")
    envelope = Envelope.of(parse_message(text))
    return build_ack(envelope, "AE" if "ORU^R01" in text else "AA").encode()


async def test_the_feed_connection_reads_each_ack_code_on_one_connection() -> None:
    messages = [m for m in feed(40, seed=3) if m.facility != "H004"]  # UTF-8 senders only
    async with MllpServer(_ack_all_but_lab_results, host="127.0.0.1", port=0) as server:
        connection = BlockingMllpConnection("127.0.0.1", server.port, timeout=10)
        codes = [await asyncio.to_thread(connection.send, m.payload) for m in messages]
        connection.close()
        assert server.metrics.connections_opened == 1
    assert [ack_code(c) for c in codes] == ["AE" if m.kind == "ORU" else "AA" for m in messages]
    assert {m.kind for m in messages} == {"ADT", "ORU", "SIU"}


async def test_a_closed_listener_is_an_error_and_the_next_send_reconnects() -> None:
    message = feed(1, seed=4)[0].payload
    server = MllpServer(_ack_all_but_lab_results, host="127.0.0.1", port=0)
    await server.start()
    port = server.port
    connection = BlockingMllpConnection("127.0.0.1", port, timeout=5)
    assert ack_code(await asyncio.to_thread(connection.send, message)) == "AA"
    await server.close()
    with pytest.raises(MllpSocketError):
        await asyncio.to_thread(connection.send, message)
    again = MllpServer(_ack_all_but_lab_results, host="127.0.0.1", port=port)
    async with again:
        assert ack_code(await asyncio.to_thread(connection.send, message)) == "AA"
    connection.close()


def test_ack_code_reads_msa_1_and_says_when_there_is_none() -> None:
    assert ack_code(b"MSH|^~\\&|HUB|YICHANG\rMSA|CA|B1-1\r") == "CA"
    assert ack_code(b"MSH|^~\\&|HUB|YICHANG\r") == "none"
