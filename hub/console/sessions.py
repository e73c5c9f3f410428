"""Server-side staff sessions: the cookie holds a random token, the table its SHA-256.

A session ends after ``console_idle_timeout_minutes`` without a request, when its account is
disabled, or at sign-out. Each session has its own CSRF token, which every form carries.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete
from sqlalchemy.orm import Session

from hub.console.models import StaffSessionRow, StaffUserRow
from hub.settings import get_settings

# Refresh last_seen at most this often: a page view is not a write each time.
TOUCH_AFTER = timedelta(seconds=30)


class SessionProblem(StrEnum):
    NONE = "none"  # no cookie, or a token the hub never issued
    EXPIRED = "expired"  # idle for longer than the timeout
    DISABLED = "disabled"  # the account was disabled


@dataclass(frozen=True)
class EndedSession:
    """Why a cookie signs nobody in, and whose session it was (None: never the hub's)."""

    problem: SessionProblem
    username: str | None = None


@dataclass(frozen=True)
class OpenSession:
    row: StaffSessionRow
    user: StaffUserRow


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user: StaffUserRow, language: str) -> str:
    """A new session for ``user``; returns the cookie's token (stored only as its hash)."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.add(
        StaffSessionRow(
            token_hash=token_hash(token),
            username=user.username,
            csrf_token=secrets.token_urlsafe(32),
            language=language,
            created=now,
            last_seen=now,
        )
    )
    session.flush()
    return token


def load_session(
    session: Session, token: str, now: datetime | None = None
) -> OpenSession | EndedSession:
    """The live session of ``token``, its last request time moved on; or why there is none."""
    now = now or datetime.now(UTC)
    row = session.get(StaffSessionRow, token_hash(token)) if token else None
    if row is None:
        return EndedSession(SessionProblem.NONE)
    idle = timedelta(minutes=get_settings().console_idle_timeout_minutes)
    if now - row.last_seen > idle:
        session.delete(row)
        return EndedSession(SessionProblem.EXPIRED, row.username)
    user = session.get(StaffUserRow, row.username)
    if user is None or not user.active:
        session.delete(row)
        return EndedSession(SessionProblem.DISABLED, row.username)
    if now - row.last_seen > TOUCH_AFTER:
        row.last_seen = now
    return OpenSession(row, user)


def close_session(session: Session, token: str) -> None:
    session.execute(delete(StaffSessionRow).where(StaffSessionRow.token_hash == token_hash(token)))


def set_language(open_: OpenSession, language: str) -> None:
    open_.row.language = language
