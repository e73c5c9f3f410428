"""The console's tables: staff accounts and their server-side sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UTCDateTime


class StaffUserRow(Base):
    __tablename__ = "console_staff_user"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(128))
    facility: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))  # a StaffRole
    password_hash: Mapped[str] = mapped_column(String(255))  # Argon2id, PHC string
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    practitioner: Mapped[str | None] = mapped_column(String(80), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffSessionRow(Base):
    __tablename__ = "console_session"

    # SHA-256 of the cookie's random token: a copy of the table signs nobody in.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(
        String(64), ForeignKey("console_staff_user.username", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
