"""Tables of SMART App Launch (standalone patient access): public apps, login requests, codes,
refresh tokens and login attempts. Secrets (codes, refresh tokens, one-time codes) are stored as
SHA-256 digests only; a resident ID only as its keyed blind index (rate limiting)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UTCDateTime


class AppClientRow(Base):
    """A public client (a patient app): no secret, its exact redirect URIs (one per line)."""

    __tablename__ = "auth_app_client"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    redirect_uris: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(1024))  # the most this app may be granted
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)


class LoginRequestRow(Base):
    """An authorization request waiting for the patient to log in (the login page's state)."""

    __tablename__ = "auth_login_request"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(String(1024))
    scope: Mapped[str] = mapped_column(String(1024))  # already narrowed to the app's
    state: Mapped[str] = mapped_column(String(512))
    code_challenge: Mapped[str] = mapped_column(String(128))
    csrf_digest: Mapped[str] = mapped_column(String(64))
    otp_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    otp_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    otp_attempts: Mapped[int] = mapped_column(Integer, default=0)
    patient_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuthorizationCodeRow(Base):
    __tablename__ = "auth_authorization_code"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(String(1024))
    scope: Mapped[str] = mapped_column(String(1024))
    patient_id: Mapped[str] = mapped_column(String(64))
    code_challenge: Mapped[str] = mapped_column(String(128))
    family: Mapped[str] = mapped_column(String(64))  # the refresh tokens this code leads to
    used: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RefreshTokenRow(Base):
    __tablename__ = "auth_refresh_token"
    __table_args__ = (Index("ix_auth_refresh_token_family", "family"),)

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    family: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(1024))
    patient_id: Mapped[str] = mapped_column(String(64))
    used: Mapped[bool] = mapped_column(Boolean, default=False)  # rotated: spent
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)  # its family was replayed
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginAttemptRow(Base):
    """One counted login attempt under a rate-limit key (a blind-indexed ID, or client+IP)."""

    __tablename__ = "auth_login_attempt"
    __table_args__ = (Index("ix_auth_login_attempt_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
