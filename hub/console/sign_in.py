"""Sign-in, sign-out and the language switch: ``/console``, ``/console/login``, ...

The sign-in form carries a CSRF token of its own (a double-submit cookie: there is no session
yet). Every sign-in, failed or not, and every sign-out is audited.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from hub.console.accounts import Refusal, check_sign_in
from hub.console.audit import SIGN_IN, SIGN_OUT, record_event, record_refusal, unknown_actor
from hub.console.deps import (
    SESSION_COOKIE,
    PostedForm,
    client_address,
    current_staff,
    form_posted_by,
)
from hub.console.errors import CONSOLE_PREFIX, SignInRequired
from hub.console.i18n import LANGUAGES, pick_language
from hub.console.navigation import home_page
from hub.console.oidc import enabled
from hub.console.rendering import LANGUAGE_COOKIE, language_of, render
from hub.console.sessions import (
    OpenSession,
    close_session,
    load_session,
    open_session,
    set_language,
)
from hub.console.staff import StaffRole, actor_for
from hub.db import session_scope
from hub.settings import Environment, get_settings

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)
LOGIN_CSRF_COOKIE = "hub_console_login"
Field = Annotated[str, Form(max_length=1000)]


def set_cookie(
    response: Response, name: str, value: str, *, max_age: int | None = None, lax: bool = False
) -> None:
    """HttpOnly, SameSite=Strict (Lax: a cookie that must come back from another site's
    redirect), limited to /console; Secure in production."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=CONSOLE_PREFIX,
        httponly=True,
        samesite="lax" if lax else "strict",
        secure=get_settings().environment is Environment.PRODUCTION,
    )


def _safe_next(target: str) -> str | None:
    """A page of the console to go back to; anything else (another site) is ignored."""
    if target.startswith(f"{CONSOLE_PREFIX}/") and "//" not in target and "\\" not in target:
        return target
    return None


def login_page(request: Request, message: str = "", status: int = 200, next_: str = "") -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request, "login.html", status=status, message=message, csrf_token=token, next=next_,
        oidc=enabled(get_settings()),
    )  # fmt: skip
    set_cookie(response, LOGIN_CSRF_COOKIE, token)
    return response


@router.get("")
def console_home(request: Request) -> Response:
    try:
        staff = current_staff(request)
    except SignInRequired:
        return RedirectResponse(f"{CONSOLE_PREFIX}/login", status_code=303)
    return RedirectResponse(home_page(staff.role), status_code=303)


@router.get("/login")
def login_form(request: Request, reason: str = "", next: str = "") -> Response:
    message = reason if reason in ("login.expired", "login.signed-out") else ""
    return login_page(request, message, next_=_safe_next(next) or "")


@router.post("/login")
def login(
    request: Request,
    username: Field = "",
    password: Field = "",
    code: Field = "",
    csrf_token: Field = "",
    next: Field = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        record_refusal(unknown_actor(username, client_address(request)), "sign-in form: CSRF")
        return login_page(request, "login.csrf", 403, next)
    username = username.strip().lower()
    language = language_of(request)
    with session_scope() as session:
        result = check_sign_in(session, username, password, code)
        user = result.user
        role = StaffRole(user.role) if user is not None else None
        actor = (
            actor_for(username, user.facility, role, source_address=client_address(request))
            if user is not None and role is not None
            else unknown_actor(username, client_address(request))
        )
        if result.refusal is None and user is not None and role is not None:
            token = open_session(session, user, language)
            record_event(session, actor, SIGN_IN, "signed in")
        else:
            text = f"sign-in refused: {result.refusal}" + (" (locked)" if result.now_locked else "")
            record_event(session, actor, SIGN_IN, text, failed=True)
    if result.refusal is not None or role is None:
        refusal = result.refusal or Refusal.BAD_CREDENTIALS
        status = 200 if refusal is Refusal.CODE_REQUIRED else 401
        return login_page(request, f"login.{refusal}", status, next)
    response = RedirectResponse(_safe_next(next) or home_page(role), status_code=303)
    set_cookie(response, SESSION_COOKIE, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=CONSOLE_PREFIX)
    return response


@router.post("/logout")
def logout(
    request: Request, posted: Annotated[PostedForm, Depends(form_posted_by(*StaffRole))]
) -> Response:
    with session_scope() as session:
        close_session(session, request.cookies.get(SESSION_COOKIE, ""))
        record_event(session, posted.staff.actor, SIGN_OUT, "signed out")
    response = RedirectResponse(f"{CONSOLE_PREFIX}/login?reason=login.signed-out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=CONSOLE_PREFIX)
    return response


@router.get("/language")
def switch_language(request: Request, to: str = "") -> Response:
    """Remember the language (a cookie; the session's too) and go back to the page."""
    language = pick_language(to if to in LANGUAGES else None)
    back = _safe_next(request.headers.get("referer", "").partition(str(request.base_url)[:-1])[2])
    response = RedirectResponse(back or CONSOLE_PREFIX, status_code=303)
    set_cookie(response, LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600)
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        with session_scope() as session:
            loaded = load_session(session, token)
            if isinstance(loaded, OpenSession):
                set_language(loaded, language)
    return response


@router.get("/account")
def account(request: Request) -> Response:
    """Who is signed in, as what, for which facility: a page every role has."""
    return render(request, "account.html", staff=current_staff(request))
