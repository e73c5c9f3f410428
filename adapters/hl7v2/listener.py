"""The MLLP listener: persistent facility connections, one message at a time per connection.

Networking only: it hands each payload to an injected handler and frames the ACK that handler
returns; it never reads HL7 content. Bytes that cannot reach the handler go to ``on_rejection``
with their raw bytes so operators can keep them.

Policies:

- Messages on one connection are handled strictly in order: the ACK for message n is written
  before message n+1 is handed over. Connections are independent of each other.
- A handler that raises (or returns an ACK holding VT or FS) is a bug, not a reply: the error
  is logged by type and code location only (never the exception text, which may quote the
  message), the frame is reported as ``HANDLER_FAILED`` with its bytes, and only that connection
  is closed. The sender sees the connection drop rather than waiting out its ACK timeout, and
  resends on a new connection. A handler that wants to refuse a message returns an AE/AR ACK.
- A connection that receives nothing for ``idle_timeout`` seconds (handler time aside) is closed
  by one sweeper task, not a timer per read, which keeps the per-message cost down; a partial frame
  pending then (or when the peer closes) is reported as ``INCOMPLETE``.
- Beyond ``max_connections`` a new connection is closed at once and counted as refused.
- ``close()`` stops accepting, closes idle connections, lets handlers in flight finish and send
  their ACK, then closes their connections; after ``timeout`` the stragglers are cancelled.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import ssl
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from adapters.hl7v2.framing import (
    Frame,
    FrameRejected,
    MllpDecoder,
    RejectionReason,
    encode_frame,
)
from adapters.hl7v2.tls import certificate_identity

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Peer:
    """Who is on the other end of a connection. The certificate fields are set only when the
    client presented a certificate that TLS verified."""

    host: str
    port: int
    cert_common_name: str | None = None
    cert_organization: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """Bytes received that were not handed to (or not handled by) the handler, as received: a
    rejected frame's ``data`` starts with its VT; for ``HANDLER_FAILED`` it is the payload."""

    reason: RejectionReason
    data: bytes
    peer: Peer
    received_at: datetime


@dataclass(slots=True)
class ListenerMetrics:
    """Plain counters; the caller exports them (e.g. to Prometheus)."""

    connections_opened: int = 0
    connections_closed: int = 0
    connections_refused: int = 0
    frames_received: int = 0
    acks_sent: int = 0
    rejections: dict[RejectionReason, int] = field(default_factory=dict)

    @property
    def connections_active(self) -> int:
        return self.connections_opened - self.connections_closed


Handler = Callable[[bytes, Peer], Awaitable[bytes | None]]
RejectionHook = Callable[[Rejection], Awaitable[None] | None]


@dataclass(slots=True)
class _Connection:
    peer: Peer
    decoder: MllpDecoder
    last_active: float  # loop time of the last read or handler return
    busy: bool = False  # a handler is running
    idle: bool = False  # closed by the idle sweeper


class MllpServer:
    """An asyncio MLLP server (optionally TLS with client certificates)."""

    def __init__(
        self,
        handler: Handler,
        *,
        on_rejection: RejectionHook | None = None,
        host: str = "127.0.0.1",
        port: int = 2575,
        ssl_context: ssl.SSLContext | None = None,
        idle_timeout: float = 300.0,
        max_message_bytes: int = 1024 * 1024,
        max_connections: int = 500,
        metrics: ListenerMetrics | None = None,
        read_size: int = 256 * 1024,
        ssl_handshake_timeout: float = 10.0,
    ) -> None:
        self._handler = handler
        self._on_rejection = on_rejection
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self._idle_timeout = idle_timeout
        self._max_message_bytes = max_message_bytes
        self._max_connections = max_connections
        self._read_size = read_size
        self._handshake_timeout = ssl_handshake_timeout
        self.metrics = metrics if metrics is not None else ListenerMetrics()
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], _Connection] = {}
        self._closing = False
        self._closed = asyncio.Event()
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._on_connect,
            self._host,
            self._port,
            ssl=self._ssl,
            ssl_handshake_timeout=self._handshake_timeout if self._ssl else None,
            backlog=max(128, self._max_connections),
        )
        self._sweeper = asyncio.create_task(self._sweep_idle())
        logger.info("MLLP listener on %s:%d (tls=%s)", self._host, self.port, bool(self._ssl))

    async def serve_forever(self) -> None:
        """Start if needed, then wait until ``close()`` has finished."""
        await self.start()
        await self._closed.wait()

    async def close(self, timeout: float = 10.0) -> None:
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        for task, conn in list(self._connections.items()):
            if not conn.busy:
                task.cancel()
        if self._connections:
            _, late = await asyncio.wait(list(self._connections), timeout=timeout)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        if self._server is not None:
            await self._server.wait_closed()
        self._closed.set()

    async def __aenter__(self) -> MllpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or self._closing or len(self._connections) >= self._max_connections:
            self.metrics.connections_refused += 1
            logger.warning("MLLP connection refused: at max_connections or closing")
            writer.close()
            return
        loop = asyncio.get_running_loop()
        conn = _Connection(_peer_of(writer), MllpDecoder(self._max_message_bytes), loop.time())
        self._connections[task] = conn
        self.metrics.connections_opened += 1
        try:
            await self._serve(reader, writer, conn)
        except asyncio.CancelledError:  # idle, close() or its timeout: report what is pending
            if conn.idle:
                logger.info("MLLP connection from %s idle, closed", conn.peer.host)
        except OSError as exc:  # ConnectionError, ssl.SSLError
            logger.info("MLLP connection from %s lost: %s", conn.peer.host, type(exc).__name__)
        finally:
            del self._connections[task]
            self.metrics.connections_closed += 1
            writer.close()
        for event in conn.decoder.finish():
            if isinstance(event, FrameRejected):
                await self._reject(event.reason, event.data, conn.peer)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: _Connection
    ) -> None:
        loop = asyncio.get_running_loop()
        while not self._closing:
            data = await reader.read(self._read_size)
            if not data:
                return
            conn.last_active = loop.time()
            for event in conn.decoder.feed(data):
                if isinstance(event, FrameRejected):
                    await self._reject(event.reason, event.data, conn.peer)
                elif not await self._handle(event, writer, conn) or self._closing:
                    return

    async def _handle(self, frame: Frame, writer: asyncio.StreamWriter, conn: _Connection) -> bool:
        """Run the handler and write its ACK; False when the connection must close."""
        self.metrics.frames_received += 1
        conn.busy = True
        try:
            ack = await self._handler(frame.payload, conn.peer)
            ack_frame = None if ack is None else encode_frame(ack)
        except Exception as exc:
            logger.error(
                "MLLP handler failed (%s at %s); closing the connection from %s",
                type(exc).__name__,
                _where(exc),
                conn.peer.host,
            )
            await self._reject(RejectionReason.HANDLER_FAILED, frame.payload, conn.peer)
            return False
        finally:
            conn.busy = False
            conn.last_active = asyncio.get_running_loop().time()
        if ack_frame is not None:
            # Once written, the ACK is in the transport's buffer, which closing still flushes;
            # a peer that stops reading stalls drain() only until the idle sweeper closes it.
            writer.write(ack_frame)
            self.metrics.acks_sent += 1
            await writer.drain()
        return True

    async def _sweep_idle(self) -> None:
        loop = asyncio.get_running_loop()
        interval = max(0.05, min(1.0, self._idle_timeout / 4))
        while True:
            await asyncio.sleep(interval)
            deadline = loop.time() - self._idle_timeout
            for task, conn in list(self._connections.items()):
                if not conn.busy and conn.last_active <= deadline and not conn.idle:
                    conn.idle = True
                    task.cancel()

    async def _reject(self, reason: RejectionReason, data: bytes, peer: Peer) -> None:
        counts = self.metrics.rejections
        counts[reason] = counts.get(reason, 0) + 1
        logger.warning("MLLP %s from %s: %d bytes", reason.value, peer.host, len(data))
        if self._on_rejection is None:
            return
        try:
            result = self._on_rejection(Rejection(reason, data, peer, datetime.now(UTC)))
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            logger.error("MLLP rejection hook failed (%s at %s)", type(exc).__name__, _where(exc))


def _peer_of(writer: asyncio.StreamWriter) -> Peer:
    address = writer.get_extra_info("peername")
    host, port = (str(address[0]), int(address[1])) if address else ("?", 0)
    identity = certificate_identity(writer.get_extra_info("peercert"))
    if identity is None:
        return Peer(host, port)
    return Peer(host, port, identity.common_name, identity.organization)


def _where(exc: BaseException) -> str:
    """The innermost code location of ``exc``, without its message (which may hold PHI)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename}:{last.lineno} in {last.name}"
