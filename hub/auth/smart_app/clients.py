"""Public clients (patient apps): registration and lookup. They hold no secret, so PKCE and the
exact redirect URIs registered here are what bind a code to the app that asked for it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from hub.auth.scopes import parse_scopes
from hub.auth.smart_app.authorize_request import AppRegistration
from hub.auth.smart_app.models import AppClientRow

# What a patient app may be granted by default: its person's records, and booking for them.
DEFAULT_APP_SCOPE = (
    "launch/patient openid fhirUser offline_access online_access "
    "patient/*.rs patient/Appointment.cu"
)


def _check_redirect_uri(uri: str) -> str:
    parts = urlsplit(uri)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not parts.scheme or parts.fragment:
        raise ValueError(f"redirect URI must be absolute and have no fragment: {uri!r}")
    if parts.scheme in ("http", "https") and not parts.netloc:
        raise ValueError(f"redirect URI must name a host: {uri!r}")
    if parts.scheme == "http" and not loopback:
        raise ValueError(f"redirect URI must use https (http only on loopback): {uri!r}")
    return uri


def register_public_client(
    session: Session,
    *,
    redirect_uris: list[str],
    scope: str | None = None,
    description: str | None = None,
) -> AppClientRow:
    """A patient app; ValueError for a redirect URI or scope it may not have."""
    if not redirect_uris:
        raise ValueError("a public client needs at least one --redirect-uri")
    uris = [_check_redirect_uri(uri.strip()) for uri in redirect_uris]
    allowed = scope or DEFAULT_APP_SCOPE
    if any(s.context != "patient" for s in parse_scopes(allowed)):
        raise ValueError("a public client may be granted patient/ scopes only")
    row = AppClientRow(
        client_id=str(uuid.uuid4()),
        redirect_uris="\n".join(uris),
        scope=allowed,
        active=True,
        created=datetime.now(UTC),
        description=description,
    )
    session.add(row)
    session.flush()
    return row


def app_registration(session: Session, client_id: str) -> AppRegistration | None:
    row = session.get(AppClientRow, client_id[:64]) if client_id else None
    if row is None:
        return None
    uris = tuple(u for u in row.redirect_uris.split("\n") if u)
    return AppRegistration(row.client_id, uris, row.scope, row.active)
