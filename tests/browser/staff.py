"""Staff accounts for the console's tests, made in the run's database (as `hub users add`)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

import pyotp

from hub.console.accounts import add_user
from hub.console.staff import StaffRole
from hub.db import session_scope


@dataclass(frozen=True)
class Staff:
    username: str
    password: str
    facility: str
    role: StaffRole
    totp_secret: str | None

    def code(self) -> str:
        """The authenticator's current code ("" without a second factor)."""
        return pyotp.TOTP(self.totp_secret).now() if self.totp_secret else ""


def new_staff(role: StaffRole, facility: str = "H001", name: str = "") -> Staff:
    username = f"{str(role).replace('-', '')}.{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(12)
    with session_scope() as session:
        user = add_user(
            session, username=username, password=password, facility=facility, role=role,
            display_name=name or username,
        )  # fmt: skip
        secret = user.totp_secret
    return Staff(username, password, facility, role, secret)
