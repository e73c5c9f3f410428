"""``hub messages send``: send HL7 v2 messages from files over MLLP and print the ACKs.

What a facility's integration engineer needs to try the front door (or any MLLP receiver)
without writing a client or installing ``nc``: a file holds one or more messages, each starting
with an ``MSH`` segment; segments may end in CR, LF or CRLF (as editors save them) and are sent
with CR, as HL7 v2 requires. The bytes are sent as they are in the file: the encoding is what
MSH-18 says.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer

_SEGMENT_END = re.compile(rb"\r\n|\n|\r")
_POSITIVE = (b"AA", b"CA")


def split_messages(data: bytes) -> list[bytes]:
    """The messages of a file: segments joined with CR, a new message at each ``MSH``."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    messages: list[list[bytes]] = []
    for segment in _SEGMENT_END.split(data):
        if not segment.strip():
            continue
        if segment.startswith(b"MSH") or not messages:
            messages.append([])
        messages[-1].append(segment)
    return [b"\r".join(segments) + b"\r" for segments in messages]


def ack_code(ack: bytes) -> bytes:
    """MSA-1 of an ACK (empty when there is no MSA segment)."""
    for segment in _SEGMENT_END.split(ack):
        if segment.startswith(b"MSA") and len(segment) > 4:
            return segment[4:].split(segment[3:4], 1)[0]
    return b""


def send_command(
    files: Annotated[
        list[Path], typer.Argument(help="files of HL7 v2 messages; - reads standard input")
    ],
    host: Annotated[str, typer.Option(help="the receiver's address")] = "127.0.0.1",
    port: Annotated[
        int | None, typer.Option(help="the receiver's port (default HUB_MLLP_PORT, 2575)")
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for each ACK")] = 30.0,
) -> None:
    """Send HL7 v2 messages over MLLP, one connection, in order; print each ACK (segments on
    lines). Exit code 0 when every ACK is AA or CA, 1 otherwise or when the receiver cannot be
    reached, 2 for a file that cannot be read or holds no message."""
    from adapters.hl7v2.client import MllpError, send_messages
    from hub.settings import get_settings

    payloads: list[bytes] = []
    for path in files:
        try:
            data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
        except OSError as exc:
            typer.echo(f"cannot read {path}: {exc.strerror}", err=True)
            raise typer.Exit(2) from None
        found = [m for m in split_messages(data) if m.startswith(b"MSH")]
        if not found:
            typer.echo(f"{path}: no message (a message starts with MSH)", err=True)
            raise typer.Exit(2)
        payloads += found
    target = port or get_settings().mllp_port
    try:
        acks = send_messages(host, target, payloads, timeout=timeout)
    except MllpError as exc:
        typer.echo(f"{host}:{target}: {exc}", err=True)
        raise typer.Exit(1) from None
    for ack in acks:
        sys.stdout.write(ack.decode("utf-8", "replace").replace("\r", "\n").rstrip("\n") + "\n\n")
    refused = sum(ack_code(ack) not in _POSITIVE for ack in acks)
    if refused:
        typer.echo(f"{refused} of {len(acks)} messages not accepted (see MSA-1 and ERR)", err=True)
        raise typer.Exit(1)
