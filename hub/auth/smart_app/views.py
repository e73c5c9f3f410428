"""HTTP of the patient login: ``/auth/authorize`` (GET and POST), the two login forms, and the
app grants of ``/auth/token`` (called from :mod:`hub.auth.views`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from hub.audit.service import AuditEntry, record_standalone
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.auth.service import OAuthError, get_issuer
from hub.auth.smart_app.authorize_request import NoRedirectError, RedirectError
from hub.auth.smart_app.grants import exchange_app_grant
from hub.auth.smart_app.login import LoginError, begin_login, check_code, send_code
from hub.auth.smart_app.notifier import CodeNotifier, NotifierUnavailable, get_notifier
from hub.auth.smart_app.pages import code_page, error_page, resident_id_page
from hub.db import session_scope
from hub.security.fields import get_cipher
from hub.settings import Environment, get_settings

router = APIRouter(tags=["Authorization"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
CSRF_COOKIE = "hub_login_csrf"
PAGE_HEADERS = NO_STORE | {
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
MAX_FORM_BYTES = 8192
# The login pages answer in HTML, refusals included (a person reads them, not the app).
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    302: {"description": "Back to the app's redirect URI (code and state, or an OAuth error)"},
    400: {"description": "Error page: the request or the form was refused"},
    403: {"description": "Error page: the form's CSRF check failed"},
    413: {"description": "Error page: the form is too large"},
    429: {"description": "Error page: too many login attempts"},
    503: {"description": "Error page: no way to send one-time codes is configured"},
}


async def _form(request: Request) -> dict[str, str]:
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise LoginError("the form is too large", 413)
    return dict(parse_qsl(raw.decode("utf-8", "replace"), max_num_fields=20))


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers=PAGE_HEADERS)


def _address(request: Request) -> str:
    return request.client.host if request.client else "-"


async def _authorize(params: dict[str, str]) -> Response:
    settings = get_settings()

    def run() -> tuple[str, str]:
        with session_scope() as session:
            started = begin_login(
                session, params, audience=settings.fhir_base_url, now=datetime.now(UTC)
            )
        return started.login_request, started.csrf_token

    try:
        login_request, csrf = await run_in_threadpool(run)
    except NoRedirectError as exc:
        return _html(error_page(exc.error, exc.description), 400)
    except RedirectError as exc:
        return RedirectResponse(exc.location, status_code=302, headers=NO_STORE)
    response = _html(resident_id_page(login_request, csrf))
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        httponly=True,
        samesite="strict",
        secure=settings.public_base_url.startswith("https"),
        path="/auth/login",
        max_age=600,
    )
    return response


@router.get(
    "/auth/authorize",
    summary="SMART App Launch: authorization request (login page)",
    response_class=HTMLResponse,
    responses=PAGE_RESPONSES,
)
async def authorize_get(request: Request) -> Response:
    return await _authorize(dict(request.query_params))


@router.post(
    "/auth/authorize",
    summary="SMART App Launch: authorization request by POST",
    response_class=HTMLResponse,
    responses=PAGE_RESPONSES,
)
async def authorize_post(request: Request) -> Response:
    try:
        params = await _form(request)
    except LoginError as exc:
        return _html(error_page("invalid_request", exc.description), exc.status)
    return await _authorize(params)


def _notifier() -> CodeNotifier:
    settings = get_settings()
    production = settings.environment is Environment.PRODUCTION
    try:
        return get_notifier(settings.patient_code_notifier, production=production)
    except NotifierUnavailable as exc:
        raise LoginError(f"patient login is not available: {exc}", 503) from None


def _csrf(request: Request, form: dict[str, str]) -> str:
    """The form's CSRF token, which must equal the cookie set with the login page."""
    token = form.get("csrf_token", "")
    if not token or request.cookies.get(CSRF_COOKIE) != token:
        raise LoginError("the form was not issued for this login (CSRF check failed)", 403)
    return token


@router.post(
    "/auth/login/code",
    summary="Patient login: send a one-time code",
    response_class=HTMLResponse,
    responses=PAGE_RESPONSES,
)
async def login_code(request: Request) -> Response:
    form: dict[str, str] = {}
    try:
        form = await _form(request)
        csrf = _csrf(request, form)
        login_request = form.get("login_request", "")

        def run() -> None:
            with session_scope() as session:
                send_code(
                    session,
                    login_request=login_request,
                    csrf_token=csrf,
                    resident_id=form.get("resident_id", ""),
                    client_address=_address(request),
                    cipher=get_cipher(),
                    notifier=_notifier(),
                    now=datetime.now(UTC),
                )

        await run_in_threadpool(run)
    except LoginError as exc:
        if exc.status == 400 and form.get("login_request"):
            again = form.get("csrf_token", "")
            return _html(resident_id_page(form["login_request"], again, exc.description), 400)
        return _html(error_page("access_denied", exc.description), exc.status)
    return _html(code_page(login_request, csrf))


@router.post(
    "/auth/login/verify",
    summary="Patient login: check the one-time code",
    response_class=HTMLResponse,
    responses=PAGE_RESPONSES,
)
async def login_verify(request: Request) -> Response:
    try:
        form = await _form(request)
        csrf = _csrf(request, form)
        login_request = form.get("login_request", "")

        def run() -> tuple[str | None, str | None]:
            with session_scope() as session:
                checked = check_code(
                    session,
                    login_request=login_request,
                    csrf_token=csrf,
                    code=form.get("code", ""),
                    client_address=_address(request),
                    now=datetime.now(UTC),
                )
            return checked.redirect_to, checked.problem

        redirect_to, problem = await run_in_threadpool(run)
    except LoginError as exc:
        return _html(error_page("access_denied", exc.description), exc.status)
    if redirect_to is None:
        return _html(code_page(login_request, csrf, problem), 400)
    return RedirectResponse(redirect_to, status_code=302, headers=NO_STORE)


async def app_token(form: dict[str, str], source_address: str | None = None) -> JSONResponse:
    """``/auth/token`` for ``authorization_code`` and ``refresh_token``. A refusal's changes
    (a replay revoking its family) are committed; the grants change nothing else on refusal.
    Refusals are audited, like those of the client-credentials grant."""

    def run() -> tuple[dict[str, object], int]:
        with session_scope() as session:
            try:
                tokens = exchange_app_grant(
                    session, form, issuer=get_issuer(), now=datetime.now(UTC)
                )
            except OAuthError as exc:
                return {"error": exc.error, "error_description": exc.description}, exc.status
        return tokens.as_response(), 200

    body, status = await run_in_threadpool(run)
    if status != 200:
        actor = Actor.build(
            client_id=form.get("client_id", "anonymous")[:64] or "anonymous",
            facility="-",
            role=Role.patient,
            scope="",
            source_address=source_address,
        )
        text = f"{body['error']}: {body['error_description']}"
        record_standalone(AuditEntry(actor, "token", None, outcome="4", outcome_text=text))
    return JSONResponse(body, status_code=status, headers=NO_STORE)
