"""The MLLP front door assembled: listener -> intake checks -> group-committed inbox -> ACK.

``hub mllp`` runs :func:`serve_mllp`; ``hub demo`` and the tests start :class:`Hl7Gateway` in
their own event loop. The ACK leaves only after the inbox commit that holds the message; if the
commit fails the sender gets AR 207 and keeps the message in its own queue. The sender policy
(``sender.py``) is settled at construction: a configuration that cannot identify senders in
production raises :class:`~adapters.hl7v2.sender.SenderConfigError` before anything listens.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime

from adapters.hl7v2 import metrics
from adapters.hl7v2.ack import build_ack, internal_error
from adapters.hl7v2.errors import Hl7Error
from adapters.hl7v2.inbox import InboxWriter
from adapters.hl7v2.inbox_queue import get_dispatcher
from adapters.hl7v2.intake import Intake, Received, Sender
from adapters.hl7v2.listener import MllpServer, Peer, Rejection
from adapters.hl7v2.models import MessageStatus
from adapters.hl7v2.report_owner import foreign_report
from adapters.hl7v2.sender import sender_policy
from adapters.hl7v2.tls import server_context
from hub.region.facilities import Facility, load_facilities
from hub.security.fields import FieldCipher, get_cipher
from hub.settings import Settings, get_settings
from hub.work_queues import Dispatcher

log = logging.getLogger("hub.hl7v2.gateway")


def facilities_by_sending_name(facilities: list[Facility]) -> dict[str, Facility]:
    """MSH-4 may carry the facility's HL7 name (as registered) or its hub code."""
    table = {f.code: f for f in facilities}
    table.update({f.hl7_sending_facility: f for f in facilities if f.hl7_sending_facility})
    return table


class Hl7Gateway:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        cipher: FieldCipher | None = None,
        dispatcher: Dispatcher | None = None,
        facilities: list[Facility] | None = None,
        port: int | None = None,
        report_check: Callable[[Received], Hl7Error | None] = foreign_report,
    ) -> None:
        self.settings = settings or get_settings()
        by_name = facilities_by_sending_name(facilities or load_facilities())
        self.sender_policy = sender_policy(self.settings, by_name)  # refuses before listening
        self.cipher = cipher or get_cipher()
        self.dispatcher = dispatcher or get_dispatcher()
        self.intake = Intake(
            by_name,
            self.settings.hl7_default_charset,
            self.settings.mllp_honour_accept_ack_type,
            self.settings.hl7_strict_facilities,
            self.sender_policy,
        )
        self.report_check = report_check  # reads the database: run off the event loop
        self.writer = InboxWriter(self.cipher, self.dispatcher.notify)
        self.server = MllpServer(
            self.handle,
            on_rejection=self.keep_rejected_bytes,
            host=self.settings.mllp_host,
            port=self.settings.mllp_port if port is None else port,
            ssl_context=self._ssl_context(),
            idle_timeout=self.settings.mllp_idle_timeout_seconds,
            max_message_bytes=self.settings.mllp_max_message_bytes,
            max_connections=self.settings.mllp_max_connections,
        )

    def _ssl_context(self) -> ssl.SSLContext | None:
        s = self.settings
        if s.mllp_tls_cert is None:
            return None
        return server_context(
            cert_file=s.mllp_tls_cert,
            key_file=s.mllp_tls_key or s.mllp_tls_cert,
            client_ca_file=s.mllp_tls_client_ca,
        )

    async def start(self) -> None:
        self.writer.start()
        await self.server.start()
        if self.sender_policy.authenticates:
            log.info("MLLP %s", self.sender_policy.describe())
        else:
            log.warning("%s", self.sender_policy.describe())

    async def close(self) -> None:
        await self.server.close()
        await self.writer.close()

    @property
    def port(self) -> int:
        return self.server.port

    async def handle(self, payload: bytes, peer: Peer) -> bytes | None:
        started = time.perf_counter()
        names = tuple(n for n in (peer.cert_common_name, peer.cert_organization) if n)
        frame = self.intake.check(payload, Sender(f"{peer.host}:{peer.port}", names, peer.host))
        if frame.sender_refusal is not None:
            log.warning("HL7 v2 message from %s refused: %s", peer.host, frame.sender_refusal)
        if frame.accepted and frame.status_reports:
            frame = await self._check_reports(frame)
        try:
            stored = await self.writer.submit(frame)
        except Exception:
            metrics.MESSAGES.labels(outcome="store-failed").inc()
            envelope_ack = build_ack(frame.envelope, "AR", internal_error())
            return frame.ack_bytes(envelope_ack)
        outcome = "duplicate" if stored.duplicate else frame.ack_code
        if frame.sender_refusal is not None:
            outcome = "sender-refused"
        metrics.MESSAGES.labels(outcome=outcome).inc()
        metrics.ACK_LATENCY.observe(time.perf_counter() - started)
        return frame.ack_bytes(stored.ack) if stored.ack else None

    async def _check_reports(self, frame: Received) -> Received:
        """A report on a hub booking from a facility that does not own its slot: AE now,
        stored as refused (``report_owner.py``); a failed check: AR 207, sent again."""
        try:
            refusal = await asyncio.to_thread(self.report_check, frame)
        except Exception:
            log.exception("could not check the facility of a report on a hub booking")
            return self.intake.refuse(frame, internal_error("the hub could not check this "
                                                            "report; send it again"))  # fmt: skip
        if refusal is None:
            return frame
        frame.report_refusal = refusal.text
        log.warning("HL7 v2 report from %s refused: %s", frame.facility_code, refusal.text)
        return self.intake.refuse(frame, refusal)

    async def keep_rejected_bytes(self, rejection: Rejection) -> None:
        """Frames no ACK can answer (garbage, truncated, oversize) are kept for the operators."""
        metrics.UNFRAMED.labels(reason=str(rejection.reason)).inc()
        frame = Received(
            raw=rejection.data,
            peer=f"{rejection.peer.host}:{rejection.peer.port}",
            received_at=datetime.now(UTC),
            status=MessageStatus.REJECTED,
            ack_code="",
            ack="",
            error=f"frame rejected by the listener: {rejection.reason}",
        )
        try:
            await self.writer.submit(frame)
        except Exception:
            log.exception("could not keep a rejected frame (%d bytes)", len(rejection.data))


async def serve_mllp(settings: Settings | None = None, port: int | None = None) -> None:
    """Run the listener until cancelled (``hub mllp``)."""
    gateway = Hl7Gateway(settings, port=port)
    await gateway.start()
    log.info("MLLP listener on port %d", gateway.port)
    try:
        await gateway.server.serve_forever()
    finally:
        await gateway.close()
