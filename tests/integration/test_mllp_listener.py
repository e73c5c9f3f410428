"""The MLLP listener and client over real sockets on 127.0.0.1 (plain TCP and mutual TLS)."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from adapters.hl7v2.client import MllpClient, MllpConnectionError, send_messages
from adapters.hl7v2.framing import RejectionReason, encode_frame
from adapters.hl7v2.listener import MllpServer, Peer, Rejection
from adapters.hl7v2.tls import client_context, server_context
from tests.pki import LOOPBACK_SAN, issue, name, new_key, write_pem

Handler = Callable[[bytes, Peer], Awaitable[bytes | None]]


@dataclass
class Recorder:
    """A handler that ACKs with ``ACK:`` + payload and keeps what it saw."""

    received: list[tuple[bytes, Peer]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    async def handle(self, payload: bytes, peer: Peer) -> bytes | None:
        self.received.append((payload, peer))
        if b"BOOM" in payload:
            raise ValueError(f"cannot map {payload!r}")  # the text must never reach the logs
        if b"SILENT" in payload:
            return None
        if b"BADACK" in payload:
            return b"MSA|AA\x1c"  # cannot be framed
        return b"ACK:" + payload

    def reject(self, rejection: Rejection) -> None:
        self.rejections.append(rejection)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


async def started(handler: Handler, recorder: Recorder, **options: Any) -> MllpServer:
    server = MllpServer(handler, on_rejection=recorder.reject, host="127.0.0.1", port=0, **options)
    await server.start()
    return server


@pytest.fixture
async def server(recorder: Recorder) -> AsyncIterator[MllpServer]:
    srv = await started(recorder.handle, recorder, max_message_bytes=4096, idle_timeout=5.0)
    yield srv
    await srv.close()


async def read_frame(reader: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    data = await asyncio.wait_for(reader.readuntil(b"\x1c\x0d"), timeout)
    assert data.startswith(b"\x0b")
    return data[1:-2]


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_persistent_connection_acks_in_order(server: MllpServer, recorder: Recorder) -> None:
    async with MllpClient("127.0.0.1", server.port) as client:
        acks = [await client.send(b"MSH|%d" % i, timeout=5) for i in range(20)]
    assert acks == [b"ACK:MSH|%d" % i for i in range(20)]
    assert [p for p, _ in recorder.received] == [b"MSH|%d" % i for i in range(20)]
    assert server.metrics.connections_opened == 1
    assert server.metrics.frames_received == server.metrics.acks_sent == 20


async def test_pipelined_frames_are_handled_one_at_a_time(recorder: Recorder) -> None:
    acks_before: list[int] = []

    async def slow_handler(payload: bytes, peer: Peer) -> bytes:
        acks_before.append(srv.metrics.acks_sent)
        await asyncio.sleep(0.02 if payload.endswith(b"0") else 0)
        return b"ACK:" + payload

    srv = await started(slow_handler, recorder)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"".join(encode_frame(b"M%d" % i) for i in range(10)))
        acks = [await read_frame(reader) for _ in range(10)]
        writer.close()
    finally:
        await srv.close()
    assert acks == [b"ACK:M%d" % i for i in range(10)]
    assert acks_before == list(range(10))  # message n+1 handled only after ACK n was sent


async def test_many_concurrent_connections(recorder: Recorder) -> None:
    active = 0
    peak = 0

    async def handler(payload: bytes, peer: Peer) -> bytes:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.001)
        active -= 1
        return b"ACK:" + payload

    srv = await started(handler, recorder, max_connections=100)

    async def one_client(n: int) -> list[bytes]:
        async with MllpClient("127.0.0.1", srv.port) as client:
            return [await client.send(b"C%d-%d" % (n, i), timeout=10) for i in range(20)]

    try:
        results = await asyncio.gather(*(one_client(n) for n in range(60)))
    finally:
        await srv.close()
    for n, acks in enumerate(results):
        assert acks == [b"ACK:C%d-%d" % (n, i) for i in range(20)]
    assert peak > 10
    assert srv.metrics.connections_opened == srv.metrics.connections_closed == 60
    assert srv.metrics.frames_received == 1200


async def test_idle_timeout_closes_and_reports_partial_frame(recorder: Recorder) -> None:
    srv = await started(recorder.handle, recorder, idle_timeout=0.3)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(encode_frame(b"MSH|whole") + b"\x0bMSH|half")
        assert await read_frame(reader) == b"ACK:MSH|whole"
        assert await asyncio.wait_for(reader.read(), 3) == b""  # closed by the server
        writer.close()
        await wait_for(lambda: bool(recorder.rejections))
    finally:
        await srv.close()
    [rejection] = recorder.rejections
    assert rejection.reason is RejectionReason.INCOMPLETE
    assert rejection.data == b"\x0bMSH|half"
    assert rejection.peer.host == "127.0.0.1"
    assert srv.metrics.rejections == {RejectionReason.INCOMPLETE: 1}


async def test_handler_error_closes_only_that_connection(
    server: MllpServer, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with MllpClient("127.0.0.1", server.port) as good:
        assert await good.send(b"MSH|one", timeout=5) == b"ACK:MSH|one"
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(encode_frame(b"MSH|BOOM|ZHANG^SAN"))
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        assert await good.send(b"MSH|two", timeout=5) == b"ACK:MSH|two"
    assert [r.reason for r in recorder.rejections] == [RejectionReason.HANDLER_FAILED]
    assert recorder.rejections[0].data == b"MSH|BOOM|ZHANG^SAN"
    assert "ValueError" in caplog.text
    assert "ZHANG" not in caplog.text and "BOOM" not in caplog.text


async def test_unframable_ack_counts_as_handler_failure(
    server: MllpServer, recorder: Recorder
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(encode_frame(b"MSH|BADACK"))
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    await wait_for(lambda: bool(recorder.rejections))
    assert [r.reason for r in recorder.rejections] == [RejectionReason.HANDLER_FAILED]


async def test_no_reply_when_handler_returns_none(server: MllpServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(encode_frame(b"MSH|SILENT") + encode_frame(b"MSH|next"))
    assert await read_frame(reader) == b"ACK:MSH|next"
    writer.close()


async def test_oversize_and_garbage_rejected_connection_keeps_serving(
    server: MllpServer, recorder: Recorder
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"hello?" + encode_frame(b"X" * 10_000) + encode_frame(b"MSH|after"))
    assert await read_frame(reader) == b"ACK:MSH|after"
    writer.close()
    reasons = [r.reason for r in recorder.rejections]
    assert reasons == [RejectionReason.OUTSIDE_FRAME, RejectionReason.OVERSIZE]
    assert recorder.rejections[0].data == b"hello?"
    assert recorder.rejections[1].data == b"\x0b" + b"X" * 4096
    assert [p for p, _ in recorder.received] == [b"MSH|after"]


async def test_max_connections_refuses_the_extra_one(recorder: Recorder) -> None:
    srv = await started(recorder.handle, recorder, max_connections=2)
    try:
        clients = [MllpClient("127.0.0.1", srv.port) for _ in range(2)]
        for client in clients:
            assert await client.send(b"MSH|x", timeout=5) == b"ACK:MSH|x"
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        assert srv.metrics.connections_refused == 1
        for client in clients:
            await client.close()
    finally:
        await srv.close()


async def test_close_lets_in_flight_handler_finish(recorder: Recorder) -> None:
    entered = asyncio.Event()

    async def slow(payload: bytes, peer: Peer) -> bytes:
        entered.set()
        await asyncio.sleep(0.3)
        return b"ACK:" + payload

    srv = await started(slow, recorder)
    port = srv.port
    idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(encode_frame(b"MSH|slow"))
    await entered.wait()
    await srv.close()
    assert await read_frame(reader) == b"ACK:MSH|slow"
    assert await asyncio.wait_for(reader.read(), 2) == b""
    assert await asyncio.wait_for(idle_reader.read(), 2) == b""
    for w in (writer, idle_writer):
        w.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_client_reconnects_after_server_idle_close(recorder: Recorder) -> None:
    srv = await started(recorder.handle, recorder, idle_timeout=0.2)
    try:
        async with MllpClient("127.0.0.1", srv.port) as client:
            assert await client.send(b"MSH|1", timeout=5) == b"ACK:MSH|1"
            await asyncio.sleep(0.5)  # the server has closed the idle connection
            assert await client.send(b"MSH|2", timeout=5) == b"ACK:MSH|2"
        assert srv.metrics.connections_opened == 2
    finally:
        await srv.close()


async def test_client_connect_failure_is_an_mllp_error() -> None:
    with pytest.raises(MllpConnectionError):
        await MllpClient("127.0.0.1", 1, connect_timeout=2).send(b"MSH|x", timeout=1)


async def test_send_messages_helper(server: MllpServer) -> None:
    acks = await asyncio.to_thread(send_messages, "127.0.0.1", server.port, [b"A", b"B"], 5)
    assert acks == [b"ACK:A", b"ACK:B"]


# --- TLS with client certificates ------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_cert: Path
    rogue_key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    keys = {n: new_key() for n in ("ca", "rca", "s", "c", "r")}
    ca_name, rogue_ca_name = name("Test Hub CA"), name("Rogue CA")
    ca = issue(ca_name, keys["ca"], ca_name, keys["ca"], ca=True)
    rogue_ca = issue(rogue_ca_name, keys["rca"], rogue_ca_name, keys["rca"], ca=True)
    server = issue(name("localhost"), keys["s"], ca_name, keys["ca"], san=LOOPBACK_SAN)
    client = issue(name("FAC0042", "Yichang Central Hospital"), keys["c"], ca_name, keys["ca"])
    rogue = issue(name("FAC0042", "Impostor"), keys["r"], rogue_ca_name, keys["rca"])
    write_pem(d / "ca.pem", ca, keys["ca"])
    write_pem(d / "rogue-ca.pem", rogue_ca, keys["rca"])
    return Pki(
        ca=d / "ca.pem",
        server_cert=write_pem(d / "server.pem", server, keys["s"]),
        server_key=d / "server.key",
        client_cert=write_pem(d / "client.pem", client, keys["c"]),
        client_key=d / "client.key",
        rogue_cert=write_pem(d / "rogue.pem", rogue, keys["r"]),
        rogue_key=d / "rogue.key",
    )


@pytest.fixture
async def tls_server(pki: Pki, recorder: Recorder) -> AsyncIterator[MllpServer]:
    context = server_context(
        cert_file=pki.server_cert, key_file=pki.server_key, client_ca_file=pki.ca
    )
    srv = await started(recorder.handle, recorder, ssl_context=context)
    yield srv
    await srv.close()


async def test_tls_client_certificate_identity_reaches_handler(
    tls_server: MllpServer, recorder: Recorder, pki: Pki
) -> None:
    context = client_context(ca_file=pki.ca, cert_file=pki.client_cert, key_file=pki.client_key)
    client = MllpClient("127.0.0.1", tls_server.port, ssl_context=context)
    try:
        assert await client.send(b"MSH|tls", timeout=5) == b"ACK:MSH|tls"
        assert await client.send(b"MSH|tls2", timeout=5) == b"ACK:MSH|tls2"
    finally:
        await client.close()
    peer = recorder.received[0][1]
    assert (peer.cert_common_name, peer.cert_organization) == (
        "FAC0042",
        "Yichang Central Hospital",
    )


async def _refused(port: int, context: ssl.SSLContext) -> None:
    """The TLS 1.3 handshake may finish on the client before the server rejects its certificate,
    so refusal shows either at connect or as the connection failing before any ACK."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    except (ssl.SSLError, ConnectionError):
        return
    try:
        writer.write(encode_frame(b"MSH|should-not-pass"))
        assert await asyncio.wait_for(reader.read(), 5) == b""
    except (ssl.SSLError, ConnectionError):
        pass
    finally:
        writer.close()


async def test_tls_client_without_certificate_is_refused(
    tls_server: MllpServer, recorder: Recorder, pki: Pki
) -> None:
    await _refused(tls_server.port, client_context(ca_file=pki.ca))
    assert recorder.received == []


async def test_tls_client_with_certificate_from_other_ca_is_refused(
    tls_server: MllpServer, recorder: Recorder, pki: Pki
) -> None:
    context = client_context(ca_file=pki.ca, cert_file=pki.rogue_cert, key_file=pki.rogue_key)
    await _refused(tls_server.port, context)
    assert recorder.received == []


async def test_tls_without_client_ca_serves_anonymous_clients(pki: Pki, recorder: Recorder) -> None:
    context = server_context(cert_file=pki.server_cert, key_file=pki.server_key)
    srv = await started(recorder.handle, recorder, ssl_context=context)
    try:
        acks = await asyncio.to_thread(
            send_messages,
            "127.0.0.1",
            srv.port,
            [b"MSH|anon"],
            5,
            ssl_context=client_context(ca_file=pki.ca),
        )
    finally:
        await srv.close()
    assert acks == [b"ACK:MSH|anon"]
    peer = recorder.received[0][1]
    assert peer.cert_common_name is None and peer.cert_organization is None
