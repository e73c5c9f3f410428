"""An MLLP client: one persistent connection, one message in flight, the ACK payload back.

Used for outbound delivery to facilities, by the tests and by the benchmark. Exceptions::

    MllpError
    ├── MllpTimeout          no ACK within the timeout (the connection is dropped: a late ACK
    │                        would otherwise be taken for the next message's)
    └── MllpConnectionError  could not connect, or the connection broke or sent bad frames

A send on a reused connection that finds it closed by the peer (e.g. the server's idle timeout)
is retried once on a new connection before the error is raised. HL7 v2 receivers de-duplicate
on MSH-10, so the rare duplicate this can cause is harmless; a timeout is never retried here.
The peer must answer every message with a frame (a listener whose handler replies nothing makes
``send`` time out).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import Sequence

from adapters.hl7v2.framing import Frame, MllpDecoder, encode_frame


class MllpError(Exception):
    """Base of the MLLP client's errors."""


class MllpTimeout(MllpError, TimeoutError):
    """No ACK arrived in time."""


class MllpConnectionError(MllpError, ConnectionError):
    """The connection could not be made, broke, or carried something other than frames."""


class MllpClient:
    """A persistent MLLP connection to ``host:port`` that reconnects when it has broken."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        connect_timeout: float = 10.0,
        max_message_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self._server_hostname = server_hostname
        self._connect_timeout = connect_timeout
        self._max_message_bytes = max_message_bytes
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._decoder = MllpDecoder(max_message_bytes)
        self._frames: deque[bytes] = deque()
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def connect(self) -> None:
        if self.connected:
            return
        await self._drop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                self._reader, self._writer = await asyncio.open_connection(
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._server_hostname if self._ssl else None,
                )
        except (OSError, TimeoutError) as exc:
            raise MllpConnectionError(
                f"cannot connect to {self._host}:{self._port}: {type(exc).__name__}"
            ) from exc

    async def send(self, payload: bytes, timeout: float = 30.0) -> bytes:
        """Send one message and return the payload of the frame that answers it."""
        frame = encode_frame(payload)
        async with self._lock:
            reused = self.connected
            await self.connect()
            try:
                return await self._exchange(frame, timeout)
            except MllpConnectionError:
                if not reused:
                    raise
            await self.connect()  # the kept-alive connection had gone stale: one retry
            return await self._exchange(frame, timeout)

    async def close(self) -> None:
        async with self._lock:
            await self._drop()

    async def __aenter__(self) -> MllpClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _exchange(self, frame: bytes, timeout: float) -> bytes:
        assert self._reader is not None and self._writer is not None
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(frame)
                await self._writer.drain()
                while not self._frames:
                    data = await self._reader.read(256 * 1024)
                    if not data:
                        raise MllpConnectionError("the peer closed the connection")
                    self._collect(data)
                return self._frames.popleft()
        except TimeoutError as exc:
            await self._drop()
            raise MllpTimeout(f"no ACK within {timeout}s") from exc
        except MllpConnectionError:
            await self._drop()
            raise
        except OSError as exc:
            await self._drop()
            raise MllpConnectionError(f"connection failed: {type(exc).__name__}") from exc

    def _collect(self, data: bytes) -> None:
        for event in self._decoder.feed(data):
            if not isinstance(event, Frame):
                raise MllpConnectionError(f"bad frame from the peer: {event.reason.value}")
            self._frames.append(event.payload)

    async def _drop(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        self._decoder = MllpDecoder(self._max_message_bytes)
        self._frames.clear()
        if writer is None:
            return
        writer.close()
        with contextlib.suppress(OSError):  # ssl.SSLError is an OSError
            await writer.wait_closed()


def send_messages(
    host: str,
    port: int,
    payloads: Sequence[bytes],
    timeout: float = 30.0,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> list[bytes]:
    """Send ``payloads`` in order over one connection; return their ACK payloads (blocking)."""

    async def run() -> list[bytes]:
        async with MllpClient(host, port, ssl_context=ssl_context) as client:
            return [await client.send(payload, timeout) for payload in payloads]

    return asyncio.run(run())
