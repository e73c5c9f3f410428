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

The active subscriptions are read once per transaction (cached on the session, dropped at its
end and whenever a Subscription is written in it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
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
CACHE = "outbound.subscriptions"
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
    end = str(subscription.get("end") or "")
    try:
        if end and datetime.fromisoformat(end) <= datetime.now(UTC):
            return None
    except (ValueError, TypeError):
        pass  # an unreadable or date-only end: keep notifying until it is fixed
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
        _payload_content(channel),
    )  # fmt: skip


def active_subscriptions(
    session: Session, cipher: FieldCipher, resource_type: str
) -> list[ActiveSubscription]:
    """The usable active rest-hook subscriptions whose criteria name ``resource_type``."""
    cached: dict[str, list[ActiveSubscription]] | None = session.info.get(CACHE)
    if cached is None:
        cached = {}
        rest_hooks = StoreSystemReads(session, cipher).with_tokens(
            "Subscription", {"status": "active", "type": "rest-hook"}
        )
        for subscription in rest_hooks:
            found = _active(session, cipher, subscription)
            if found is not None:
                cached.setdefault(found.criteria.resource_type, []).append(found)
        session.info[CACHE] = cached
    return cached.get(resource_type, [])


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
    session.info.pop(CACHE, None)


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
