"""Staff accounts: ``hub users add|list|disable``, and the sign-in check with its lockout.

Passwords are hashed with Argon2id (argon2-cffi's ``PasswordHasher``, RFC 9106 parameters);
auditors and operators also give a TOTP code (pyotp, RFC 6238). After
``console_lockout_threshold`` failed sign-ins in a row an account is locked for
``console_lockout_minutes``; the count is raised by one UPDATE, so concurrent failures all
count (the database holds it, not the process).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.console.models import StaffUserRow
from hub.console.staff import TOTP_REQUIRED, StaffRole
from hub.settings import get_settings

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 10
TOTP_ISSUER = "Yichang Hub"  # what the authenticator app shows beside the code
_HASHER = PasswordHasher()  # Argon2id
# Verified against when the account does not exist, so that an unknown name costs the same time.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


class AccountError(ValueError):
    """An account that cannot be added or changed as asked; the message says why."""


class Refusal(StrEnum):
    BAD_CREDENTIALS = "bad-credentials"  # unknown name or wrong password: told apart to nobody
    LOCKED = "locked"
    DISABLED = "disabled"
    CODE_REQUIRED = "code-required"
    BAD_CODE = "bad-code"


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: the account, or why it was refused."""

    user: StaffUserRow | None
    refusal: Refusal | None = None
    now_locked: bool = False  # this failure locked the account


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: StaffUserRow) -> str | None:
    """The otpauth:// URI an authenticator app scans (None without a second factor)."""
    if user.totp_secret is None:
        return None
    totp = pyotp.TOTP(user.totp_secret)
    return totp.provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)


def add_user(
    session: Session,
    *,
    username: str,
    password: str,
    facility: str,
    role: StaffRole,
    display_name: str = "",
    practitioner: str | None = None,
    with_totp: bool = False,
) -> StaffUserRow:
    """A new active account; auditors and operators always get a TOTP secret."""
    if not USERNAME.match(username):
        raise AccountError("a user name is 2-64 lower-case letters, digits, '.', '_' or '-'")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if not facility.strip():
        raise AccountError("a staff account belongs to a facility")
    if session.get(StaffUserRow, username) is not None:
        raise AccountError(f"user {username} already exists")
    user = StaffUserRow(
        username=username,
        display_name=display_name or username,
        facility=facility.strip(),
        role=str(role),
        password_hash=hash_password(password),
        totp_secret=new_totp_secret() if with_totp or role in TOTP_REQUIRED else None,
        practitioner=practitioner,
        active=True,
        failed_attempts=0,
        created=datetime.now(UTC),
    )
    session.add(user)
    session.flush()
    return user


def list_users(session: Session, *, facility: str | None = None) -> list[StaffUserRow]:
    query = select(StaffUserRow).order_by(StaffUserRow.facility, StaffUserRow.username)
    if facility:
        query = query.where(StaffUserRow.facility == facility)
    return list(session.scalars(query))


def disable_user(session: Session, username: str) -> StaffUserRow:
    """Disable an account; its open sessions end with it (``sessions.load`` checks ``active``)."""
    user = session.get(StaffUserRow, username)
    if user is None:
        raise AccountError(f"no user {username}")
    user.active = False
    session.flush()
    return user


def check_sign_in(
    session: Session, username: str, password: str, code: str, now: datetime | None = None
) -> SignIn:
    """Check a sign-in, counting a failure (or clearing the count on success) in ``session``."""
    now = now or datetime.now(UTC)
    user = session.get(StaffUserRow, username) if USERNAME.match(username) else None
    if user is None:
        _password_matches(_DUMMY_HASH, password)
        return SignIn(None, Refusal.BAD_CREDENTIALS)
    if not user.active:
        return SignIn(user, Refusal.DISABLED)
    if user.locked_until is not None and user.locked_until > now:
        return SignIn(user, Refusal.LOCKED)
    refusal = (
        _second_factor(user, code)
        if _password_matches(user.password_hash, password)
        else (Refusal.BAD_CREDENTIALS)
    )
    if refusal is None:
        user.failed_attempts, user.locked_until = 0, None
        session.flush()
        return SignIn(user)
    if refusal is Refusal.CODE_REQUIRED:  # the password was right: the form asks for the code
        return SignIn(user, refusal)
    return SignIn(user, refusal, now_locked=_count_failure(session, user, now))


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _second_factor(user: StaffUserRow, code: str) -> Refusal | None:
    if user.totp_secret is None:
        return None
    if not code.strip():
        return Refusal.CODE_REQUIRED
    if not pyotp.TOTP(user.totp_secret).verify(code.strip(), valid_window=1):
        return Refusal.BAD_CODE
    return None


def _count_failure(session: Session, user: StaffUserRow, now: datetime) -> bool:
    """One more failure, counted by the database; True when it locked the account."""
    settings = get_settings()
    failures = session.execute(
        update(StaffUserRow)
        .where(StaffUserRow.username == user.username)
        .values(failed_attempts=StaffUserRow.failed_attempts + 1)
        .returning(StaffUserRow.failed_attempts)
    ).scalar_one()
    if failures < settings.console_lockout_threshold:
        return False
    session.execute(
        update(StaffUserRow)
        .where(StaffUserRow.username == user.username)
        .values(
            failed_attempts=0,
            locked_until=now + timedelta(minutes=settings.console_lockout_minutes),
        )
    )
    return True
