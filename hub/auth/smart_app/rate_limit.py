"""Login attempts counted per key in a sliding window, in the database (every replica shares
the count). A key is a resident ID's blind index or a client+address pair: no personal data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hub.auth.smart_app.models import LoginAttemptRow


@dataclass(frozen=True)
class Limit:
    attempts: int
    window: timedelta


# Sending a code (and checking one) per resident ID; every login step per client and address.
PER_PERSON = Limit(5, timedelta(minutes=15))
PER_CLIENT_ADDRESS = Limit(30, timedelta(minutes=15))


class RateLimited(Exception):
    """Too many attempts under one key; retry after the window."""


def count_attempt(session: Session, key: str, limit: Limit, now: datetime) -> None:
    """Count one attempt under ``key``; raise :class:`RateLimited` when it is over the limit
    (the caller's transaction then rolls back: a refused attempt changes nothing)."""
    since = now - limit.window
    session.execute(delete(LoginAttemptRow).where(LoginAttemptRow.at < now - timedelta(days=1)))
    session.add(LoginAttemptRow(key=key[:128], at=now))
    session.flush()
    seen = session.execute(
        select(func.count())
        .select_from(LoginAttemptRow)
        .where(LoginAttemptRow.key == key[:128], LoginAttemptRow.at >= since)
    ).scalar_one()
    if seen > limit.attempts:
        raise RateLimited(f"too many login attempts; try again in {limit.window.seconds // 60} min")
