"""Registered API clients (SMART Backend Services) and used assertion ids (replay guard)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UTCDateTime


class ClientRow(Base):
    __tablename__ = "auth_client"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    facility: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    patient_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    scope: Mapped[str] = mapped_column(String(1024))  # the most this client may be granted
    jwks: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)


class UsedAssertion(Base):
    __tablename__ = "auth_used_assertion"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
