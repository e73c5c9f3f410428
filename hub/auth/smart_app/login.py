"""The patient's login: authorization request -> resident ID -> one-time code -> code.

Each step is a service function over one session; the views render their results. A refusal
that must be remembered (a wrong one-time code counts against its request) is *returned*, so
the transaction commits it; every other refusal raises :class:`LoginError` and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from hub.auth.smart_app import rate_limit
from hub.auth.smart_app.authorize_request import (
    AppRegistration,
    check_authorization_request,
    with_query,
)
from hub.auth.smart_app.clients import app_registration
from hub.auth.smart_app.models import AuthorizationCodeRow, LoginRequestRow
from hub.auth.smart_app.notifier import CodeNotifier
from hub.auth.smart_app.secrets_digest import digest, matches, new_one_time_code, new_secret
from hub.errors import FhirError
from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.mpi.lookup import cross_reference
from hub.mpi.matching.identifiers import InvalidIdError, parse_id
from hub.security.fields import FieldCipher

LOGIN_REQUEST_LIFE = timedelta(minutes=10)
ONE_TIME_CODE_LIFE = timedelta(minutes=5)
ONE_TIME_CODE_CHECKS = 5  # wrong tries before the code is void
AUTHORIZATION_CODE_LIFE = timedelta(seconds=60)


class LoginError(Exception):
    """A login step refused; ``status`` is the HTTP status of the page that says so."""

    def __init__(self, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.description = description
        self.status = status


@dataclass(frozen=True)
class LoginStarted:
    login_request: str
    csrf_token: str


@dataclass(frozen=True)
class CodeChecked:
    redirect_to: str | None  # the app's redirect URI with code and state; None: refused
    problem: str | None = None


def begin_login(
    session: Session, params: dict[str, str], *, audience: str, now: datetime
) -> LoginStarted:
    """Check the authorization request (raising its errors) and open a login request."""
    app: AppRegistration | None = app_registration(session, params.get("client_id", ""))
    request = check_authorization_request(params, app, audience)
    login_request, csrf_token = new_secret(), new_secret()
    session.add(
        LoginRequestRow(
            id=login_request[:64],
            client_id=request.client_id,
            redirect_uri=request.redirect_uri,
            scope=request.scope,
            state=request.state,
            code_challenge=request.code_challenge,
            csrf_digest=digest(csrf_token),
            otp_attempts=0,
            done=False,
            expires_at=now + LOGIN_REQUEST_LIFE,
        )
    )
    session.flush()
    return LoginStarted(login_request[:64], csrf_token)


def _open_request(
    session: Session, login_request: str, csrf_token: str, now: datetime
) -> LoginRequestRow:
    row = session.get(LoginRequestRow, login_request[:64]) if login_request else None
    if row is None or row.done or row.expires_at <= now:
        raise LoginError("this login has expired or was already used; start again from the app")
    if not csrf_token or not matches(csrf_token, row.csrf_digest):
        raise LoginError("the form was not issued for this login (CSRF check failed)", 403)
    return row


def send_code(
    session: Session,
    *,
    login_request: str,
    csrf_token: str,
    resident_id: str,
    client_address: str,
    cipher: FieldCipher,
    notifier: CodeNotifier,
    now: datetime,
) -> None:
    """Send a one-time code to the person holding ``resident_id``. Whether anyone holds it is
    not disclosed: an unknown ID gets the same page, and no code."""
    row = _open_request(session, login_request, csrf_token, now)
    _count(session, f"app:{row.client_id}:{client_address}", rate_limit.PER_CLIENT_ADDRESS, now)
    try:
        normalized = parse_id(resident_id.strip()).normalized
    except InvalidIdError:
        raise LoginError("this is not a valid resident ID number") from None
    _count(session, cipher.blind_index("login", normalized), rate_limit.PER_PERSON, now)
    row.patient_id = _patient_of(session, cipher, normalized)
    code = new_one_time_code()
    row.otp_digest = digest(f"{row.id}:{code}")
    row.otp_expires_at = now + ONE_TIME_CODE_LIFE
    row.otp_attempts = 0
    session.flush()
    if row.patient_id is not None:
        notifier.send_code(patient_id=row.patient_id, login_request=row.id[:8], code=code)


def check_code(
    session: Session,
    *,
    login_request: str,
    csrf_token: str,
    code: str,
    client_address: str,
    now: datetime,
) -> CodeChecked:
    """The app's redirect with an authorization code when ``code`` is right; a wrong code is
    counted (returned, so it is committed), and after too many the code is void."""
    row = _open_request(session, login_request, csrf_token, now)
    _count(session, f"app:{row.client_id}:{client_address}", rate_limit.PER_CLIENT_ADDRESS, now)
    if row.otp_digest is None or row.otp_expires_at is None or row.otp_expires_at <= now:
        raise LoginError("no valid one-time code: ask for a new one")
    right = matches(f"{row.id}:{code.strip()}", row.otp_digest) and row.patient_id is not None
    if not right:
        row.otp_attempts += 1
        if row.otp_attempts >= ONE_TIME_CODE_CHECKS:
            row.otp_digest = None  # void: a new code must be asked for
        return CodeChecked(None, "the one-time code is not right")
    row.done, row.otp_digest = True, None
    code_value = new_secret()
    session.add(
        AuthorizationCodeRow(
            digest=digest(code_value),
            client_id=row.client_id,
            redirect_uri=row.redirect_uri,
            scope=row.scope,
            patient_id=row.patient_id,
            code_challenge=row.code_challenge,
            family=new_secret()[:64],
            used=False,
            expires_at=now + AUTHORIZATION_CODE_LIFE,
        )
    )
    session.flush()
    return CodeChecked(with_query(row.redirect_uri, {"code": code_value, "state": row.state}))


def _count(session: Session, key: str, limit: rate_limit.Limit, now: datetime) -> None:
    try:
        rate_limit.count_attempt(session, key, limit, now)
    except rate_limit.RateLimited as exc:
        raise LoginError(str(exc), 429) from None


def _patient_of(session: Session, cipher: FieldCipher, resident_id: str) -> str | None:
    """A Patient record of the person holding the ID (the earliest registered); the token's
    compartment then spans every record the index links to that person."""
    try:
        found = cross_reference(session, cipher, RESIDENT_ID_SYSTEM, resident_id, [])
    except FhirError:  # nobody, or several persons pending stewardship: no login
        return None
    return found.patient_ids[0] if found.patient_ids else None
