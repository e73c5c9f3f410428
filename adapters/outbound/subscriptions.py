"""FHIR R4 Subscriptions (``channel.type = rest-hook``): which ones a write notifies, and the
notification each gets.

An active rest-hook Subscription is notified when a written resource meets its criteria
(``criteria.py``: what is and is not supported). Its ``channel.endpoint`` must lie under an
active ``hl7-fhir-rest`` Endpoint of a facility (``endpoints.py``), and a facility's
Subscription under one of its own (checked when it is written, :func:`check_subscriber`, and
again before delivery): that facility is the outbox destination and the one whose consent
decision and audit record each notification carries, so notifications to one facility stay in
order and the hub never calls an address no operator registered. A Subscription that fails
either check is skipped (logged by id). The writer's own facility is notified too: it asked
for these resources explicitly.

What is sent follows R4 rest-hook, as a POST to ``channel.endpoint`` with the
``channel.header`` lines as headers: no ``channel.payload`` -> an empty body; a payload ->
the resource as the body in that MIME type. The subscriptions-backport extension
``backport-payload-content`` on ``channel.payload`` may ask for ``id-only`` (a body with only
resourceType, id and versionId) or ``empty``. Each notification is decided by consent for the
receiving facility (``consent.enforcement.disclosed``: withheld, or redacted). Limits: ``end`` is
honoured but ``error`` status handling and handshakes/heartbeats are not implemented.

The active subscriptions are kept per process and database (:class:`SharedSubscriptions`), so a
write does not read them again: a Subscription or Endpoint written in this process drops them at
once and again at its commit, and another process's change is seen within
``REFRESH_SECONDS`` (HAPI FHIR's subscription registry refreshes every 60 s). ``end`` is
checked at each write, and the endpoint again before each delivery.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.orm import Session

from adapters.outbound.criteria import Criteria, CriteriaError, matches, parse_criteria
from adapters.outbound.endpoints import FacilityEndpoint, fhir_endpoint_for_url
from adapters.outbound.models import Channel
from adapters.outbound.outbox import OutboundMessage
from consent.enforcement import disclosed
from hub.errors import Forbidden
from hub.fhir.origin import origin_facility
from hub.fhir.system_reads import StoreSystemReads
from hub.security.fields import FieldCipher

log = logging.getLogger("hub.outbound.subscriptions")
WRITING = "outbound.subscriptions.writing"  # session.info: this transaction changed them
CACHE = "outbound.subscriptions"  # session.info: that transaction's own view
REFRESH_SECONDS = 5.0  # how soon another process's Subscription or Endpoint change applies
PAYLOAD_CONTENT_URL = (
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content"
)


@dataclass(frozen=True)
class ActiveSubscription:
    subscription_id: str
    criteria: Criteria
    endpoint: FacilityEndpoint
    url: str
    headers: tuple[str, ...]
    mime_type: str  # channel.payload; '' = no body
    content: str  # empty | id-only | full-resource
    end: datetime | None = None  # no notification at or after it

    def ended(self, now: datetime) -> bool:
        return self.end is not None and self.end <= now


def _payload_content(channel: dict[str, Any]) -> str:
    if not channel.get("payload"):
        return "empty"
    for extension in (channel.get("_payload") or {}).get("extension") or []:
        if extension.get("url") == PAYLOAD_CONTENT_URL:
            code = str(extension.get("valueCode") or "")
            if code in ("empty", "id-only", "full-resource"):
                return code
    return "full-resource"


def _active(
    session: Session, cipher: FieldCipher, subscription: dict[str, Any]
) -> ActiveSubscription | None:
    sid = str(subscription.get("id"))
    channel = subscription.get("channel") or {}
    end = _end(subscription)
    if end is not None and end <= datetime.now(UTC):
        return None
    try:
        criteria = parse_criteria(str(subscription.get("criteria") or ""))
    except CriteriaError as exc:
        log.warning("Subscription/%s skipped: %s", sid, exc)
        return None
    url = str(channel.get("endpoint") or "")
    endpoint = fhir_endpoint_for_url(session, cipher, url) if url else None
    if endpoint is None:
        log.warning("Subscription/%s skipped: its endpoint is no registered facility endpoint", sid)
        return None
    subscriber = origin_facility(subscription)
    if subscriber is not None and subscriber != endpoint.facility:
        # Written by one facility, delivering to another's endpoint: a facility receives only
        # what it may see, at its own address (refused at write time; this guards older rows).
        log.warning("Subscription/%s skipped: its endpoint belongs to another facility", sid)
        return None
    headers = tuple(str(h) for h in channel.get("header") or [] if isinstance(h, str))
    return ActiveSubscription(
        sid, criteria, endpoint, url, headers, str(channel.get("payload") or ""),
        _payload_content(channel), end,
    )  # fmt: skip


def _end(subscription: dict[str, Any]) -> datetime | None:
    try:
        end = datetime.fromisoformat(str(subscription.get("end") or ""))
    except (ValueError, TypeError):
        return None  # none, or unreadable: keep notifying until it is fixed
    return end if end.tzinfo is not None else None  # a date-only end: as unreadable


ByType = dict[str, list[ActiveSubscription]]


class SharedSubscriptions:
    """The usable active rest-hook subscriptions of each database, kept by this process.

    A change made here bumps ``generation`` when written and again when committed, so no
    transaction keeps a list read before another's commit; a list read while a change was in
    flight is stamped with the generation it started from and so is read again next time.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.generation = 0
        self._kept: dict[str, tuple[int, float, ByType]] = {}

    def changed(self) -> None:
        with self._lock:
            self.generation += 1

    def get(self, session: Session, cipher: FieldCipher) -> ByType:
        if session.info.get(WRITING):
            # This transaction changed them: its own view, kept for it alone (never shared
            # before its commit, which a rollback would make untrue).
            if CACHE not in session.info:
                session.info[CACHE] = _load(session, cipher)
            return dict(session.info[CACHE])
        key = str(session.get_bind().engine.url)
        with self._lock:
            generation, kept = self.generation, self._kept.get(key)
        if kept is not None and kept[0] == generation and time.monotonic() < kept[1]:
            return kept[2]
        by_type = _load(session, cipher)
        with self._lock:
            self._kept[key] = (generation, time.monotonic() + REFRESH_SECONDS, by_type)
        return by_type


SHARED = SharedSubscriptions()


def _load(session: Session, cipher: FieldCipher) -> ByType:
    by_type: ByType = {}
    rest_hooks = StoreSystemReads(session, cipher).with_tokens(
        "Subscription", {"status": "active", "type": "rest-hook"}
    )
    for subscription in rest_hooks:
        found = _active(session, cipher, subscription)
        if found is not None:
            by_type.setdefault(found.criteria.resource_type, []).append(found)
    return by_type


def active_subscriptions(
    session: Session, cipher: FieldCipher, resource_type: str
) -> list[ActiveSubscription]:
    """The usable active rest-hook subscriptions whose criteria name ``resource_type``."""
    now = datetime.now(UTC)
    found = SHARED.get(session, cipher).get(resource_type, [])
    return [s for s in found if not s.ended(now)]


def check_subscriber(
    session: Session, cipher: FieldCipher, facility: str, subscription: dict[str, Any]
) -> None:
    """Raise Forbidden unless ``subscription``, written by ``facility``, delivers to one of
    ``facility``'s own endpoints: nobody subscribes in another facility's name."""
    channel = subscription.get("channel") or {}
    if not isinstance(channel, dict) or channel.get("type") != "rest-hook":
        return  # nothing is delivered for other channel types
    url = str(channel.get("endpoint") or "")
    endpoint = fhir_endpoint_for_url(session, cipher, url) if url else None
    if endpoint is None or endpoint.facility != facility:
        raise Forbidden(
            "a facility's Subscription must deliver to one of its own registered Endpoints "
            "(channel.endpoint under an active hl7-fhir-rest Endpoint it manages)"
        )


def forget_subscriptions(session: Session) -> None:
    """A Subscription or Endpoint is being written in ``session``: every transaction of this
    process reads the subscriptions again, now and once it commits."""
    SHARED.changed()
    session.info.pop(CACHE, None)
    if not session.info.get(WRITING):
        session.info[WRITING] = True
        event.listen(session, "after_commit", _changed_on_commit, once=True)
        # A savepoint rolled back (a batch Bundle's failed entry) may take the change with it:
        # the transaction's own view is read again after any of its savepoints ends.
        event.listen(session, "after_transaction_end", _drop_own_view)


def _drop_own_view(session: Session, _transaction: object) -> None:
    session.info.pop(CACHE, None)


def _changed_on_commit(session: Session) -> None:
    session.info.pop(WRITING, None)
    session.info.pop(CACHE, None)
    SHARED.changed()


def notifications(
    session: Session, cipher: FieldCipher, resource: dict[str, Any], base_url: str = ""
) -> list[OutboundMessage]:
    """One outbox message per active subscription the written ``resource`` matches."""
    resource_type = str(resource.get("resourceType"))
    version = str((resource.get("meta") or {}).get("versionId") or "1")
    source = f"{resource_type}/{resource.get('id')}/_history/{version}"
    out: list[OutboundMessage] = []
    for sub in active_subscriptions(session, cipher, resource_type):
        if not matches(sub.criteria, resource, cipher, base_url):
            continue
        event = f"Subscription/{sub.subscription_id}"
        shown = disclosed(session, sub.endpoint.facility, resource, event, base_url)
        if shown is None:
            continue  # the subscriber's facility may not see this patient's data (audited)
        body: Any = None
        if sub.content == "full-resource":
            body = shown  # redacted where the consent withholds an element
        elif sub.content == "id-only":
            body = {"resourceType": resource_type, "id": resource.get("id"),
                    "meta": {"versionId": version}}  # fmt: skip
        payload = {
            "subscription": sub.subscription_id,
            "url": sub.url,
            "headers": list(sub.headers),
            "mime_type": sub.mime_type or "application/fhir+json",
            "body": body,
        }
        out.append(
            OutboundMessage(
                destination=sub.endpoint.facility,
                channel=Channel.FHIR_REST_HOOK,
                event=event,
                source=source,
                idempotency_key=f"{sub.endpoint.facility}|{event}|{source}",
                payload=orjson.dumps(payload),
            )
        )
    return out
