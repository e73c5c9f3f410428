"""``/console/login/oidc``: leave for the region's identity provider and come back signed in.

The state, nonce and PKCE verifier wait in a cookie of their own (SameSite=Lax: the provider's
redirect back is a cross-site navigation); a callback whose state does not match it is refused.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from hub.console.audit import SIGN_IN, record_event, record_refusal, unknown_actor
from hub.console.deps import SESSION_COOKIE, client_address
from hub.console.errors import CONSOLE_PREFIX, ConsoleRefused
from hub.console.navigation import home_page
from hub.console.oidc import OidcError, Pending, enabled, finish, staff_account, start
from hub.console.rendering import language_of, render
from hub.console.sessions import open_session
from hub.console.sign_in import login_page, set_cookie
from hub.console.staff import StaffRole, actor_for
from hub.db import session_scope
from hub.settings import get_settings

router = APIRouter(prefix=f"{CONSOLE_PREFIX}/login/oidc", include_in_schema=False)
PENDING_COOKIE = "hub_console_oidc"
PENDING_SECONDS = 600


def _callback_url() -> str:
    return f"{get_settings().public_base_url}{CONSOLE_PREFIX}/login/oidc/callback"


def _refused(request: Request, reason: str) -> Response:
    record_refusal(unknown_actor("oidc", client_address(request)), f"OIDC sign-in: {reason}", 401)
    response = login_page(request, "login.oidc-failed", 401)
    response.delete_cookie(PENDING_COOKIE, path=CONSOLE_PREFIX)
    return response


@router.get("")
def leave_for_provider() -> Response:
    settings = get_settings()
    if not enabled(settings):
        raise ConsoleRefused(404, "error.not-found")
    try:
        url, pending = start(settings, _callback_url())
    except OidcError as exc:
        raise ConsoleRefused(502, "login.oidc-failed", str(exc)) from None
    response = RedirectResponse(url, status_code=303)
    set_cookie(response, PENDING_COOKIE, pending.cookie(), max_age=PENDING_SECONDS, lax=True)
    return response


@router.get("/callback")
def back_from_provider(request: Request, code: str = "", state: str = "") -> Response:
    settings = get_settings()
    if not enabled(settings):
        raise ConsoleRefused(404, "error.not-found")
    pending = Pending.from_cookie(request.cookies.get(PENDING_COOKIE, ""))
    if pending is None or not state or not hmac.compare_digest(pending.state, state):
        return _refused(request, "state missing or not this browser's")
    if not code:
        return _refused(request, "no authorization code")
    try:
        person = finish(settings, code, pending, _callback_url())
    except OidcError as exc:
        return _refused(request, str(exc))
    with session_scope() as session:
        user = staff_account(session, settings.console_oidc_issuer, person)
        actor = actor_for(
            user.username, user.facility, StaffRole(user.role),
            source_address=client_address(request),
        )  # fmt: skip
        if not user.active:
            record_event(session, actor, SIGN_IN, "OIDC sign-in refused: disabled", failed=True)
            token = ""
        else:
            token = open_session(session, user, language_of(request))
            record_event(session, actor, SIGN_IN, "signed in (OIDC)")
    if not token:
        return login_page(request, "login.disabled", 401)
    # A page, not a redirect: the browser arrived from the provider's site, and a SameSite=Strict
    # cookie rides only on a request this site starts (the page's refresh).
    response = render(request, "continue.html", target=home_page(person.role))
    set_cookie(response, SESSION_COOKIE, token)
    response.delete_cookie(PENDING_COOKIE, path=CONSOLE_PREFIX)
    return response
