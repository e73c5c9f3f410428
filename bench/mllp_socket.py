"""A blocking MLLP connection for load generators (Locust's users run on gevent, which makes
these sockets cooperative), and the ACK code of an answer.

The hub's own client (adapters/hl7v2/client.py) is asyncio; a Locust user needs a plain socket.
The framing is the hub's (adapters/hl7v2/framing.py), so frames are cut exactly as the listener
cuts them. One message in flight per connection, as a facility's interface engine sends.
"""

from __future__ import annotations

import socket

from adapters.hl7v2.framing import Frame, FrameRejected, MllpDecoder, encode_frame

MAX_ACK_BYTES = 1024 * 1024


class MllpSocketError(ConnectionError):
    """The connection broke, timed out or answered with something that is not a frame."""


class BlockingMllpConnection:
    """A persistent connection to ``host:port``, opened on the first send and again after an
    error (the caller counts the failed send; nothing is resent here)."""

    def __init__(self, host: str, port: int, *, timeout: float = 30.0) -> None:
        self._address = (host, port)
        self._timeout = timeout
        self._socket: socket.socket | None = None
        self._decoder = MllpDecoder(MAX_ACK_BYTES)

    def send(self, payload: bytes) -> bytes:
        """Send one message and return the payload of the frame that answers it."""
        try:
            if self._socket is None:
                self._socket = socket.create_connection(self._address, timeout=self._timeout)
                self._decoder = MllpDecoder(MAX_ACK_BYTES)
            self._socket.sendall(encode_frame(payload))
            return self._read_frame(self._socket)
        except OSError as exc:
            self.close()
            raise MllpSocketError(f"{type(exc).__name__}: {exc}") from exc

    def _read_frame(self, sock: socket.socket) -> bytes:
        while True:
            data = sock.recv(65536)
            if not data:
                raise MllpSocketError("the listener closed the connection before its ACK")
            for event in self._decoder.feed(data):
                if isinstance(event, Frame):
                    return event.payload
                if isinstance(event, FrameRejected):
                    raise MllpSocketError(f"not a frame: {event.reason}")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def ack_code(ack: bytes) -> str:
    """MSA-1 of an ACK (AA, AE, AR, CA, CE, CR), or ``"none"`` when it has no MSA segment."""
    for segment in ack.replace(b"\n", b"\r").split(b"\r"):
        if segment.startswith(b"MSA"):
            fields = segment.split(segment[3:4] or b"|")
            return fields[1].decode("ascii", "replace") if len(fields) > 1 else "none"
    return "none"
