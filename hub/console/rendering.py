"""Jinja2 rendering of console pages: the language, the menu, the CSRF token, safe headers."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from hub.console.i18n import LANGUAGES, pick_language, translator
from hub.console.navigation import NAV
from hub.console.staff import StaffMember

LANGUAGE_COOKIE = "hub_console_lang"
# No inline script or style, nothing from elsewhere: pages load only the hub's own files.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Environment(
    loader=PackageLoader("hub.console", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def language_of(request: Request, staff: StaffMember | None = None) -> str:
    if staff is not None:
        return staff.language
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return pick_language(chosen, request.headers.get("accept-language"))


def render(
    request: Request,
    template: str,
    *,
    staff: StaffMember | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    language = language_of(request, staff)
    csrf_token = staff.csrf_token if staff is not None else context.pop("csrf_token", "")
    page = templates.get_template(template).render(
        t=translator(language),
        language=language,
        other_language=next(code for code in LANGUAGES if code != language),
        staff=staff,
        nav=NAV[staff.role] if staff is not None else (),
        path=request.url.path,
        csrf_token=csrf_token,
        **context,
    )
    return HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)
