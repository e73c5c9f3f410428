"""Domain events: a service says what happened; subscribers react in the same transaction.

The patient index publishes :class:`hub.mpi.events.PersonsMerged`; the outbound adapter, which
the core must not import, subscribes to it. Subscriptions are made in one place,
:mod:`hub.wiring`, at start-up. Publishing before that is refused rather than silently
reaching no one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from hub.security.fields import FieldCipher

Event = TypeVar("Event")
Subscriber = Callable[[Session, FieldCipher, Event], None]
_SUBSCRIBERS: dict[type[Any], list[Callable[[Session, FieldCipher, Any], None]]] = {}
_wired = False


class NotWired(RuntimeError):
    """A write or an event before :func:`hub.wiring.wire` ran: its followers would be skipped."""


def subscribe(event_type: type[Event], subscriber: Subscriber[Event]) -> None:
    subscribers = _SUBSCRIBERS.setdefault(event_type, [])
    if subscriber not in subscribers:
        subscribers.append(subscriber)


def mark_wired() -> None:
    global _wired
    _wired = True


def require_wiring() -> None:
    if not _wired:
        raise NotWired("hub.wiring.wire() was not called at start-up")


def publish(session: Session, cipher: FieldCipher, event: object) -> None:
    """Run every subscriber of ``event``'s type, in subscription order, in the caller's
    transaction (a subscriber's error rolls the change back with it)."""
    require_wiring()
    for subscriber in _SUBSCRIBERS.get(type(event), ()):
        subscriber(session, cipher, event)
