"""The console's refusals, shown as a page (never an OperationOutcome): 403 for a role or a
facility that may not, a missing CSRF token, a forged id; a redirect to sign in when the
session is missing or expired."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from hub.console.rendering import render
from hub.console.staff import StaffMember

CONSOLE_PREFIX = "/console"


class ConsoleRefused(Exception):
    """A request the console refuses; ``message`` is a message key (hub.console.i18n)."""

    def __init__(self, status: int, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail  # words of the FHIR refusal behind it, shown beneath the message


class SignInRequired(Exception):
    """No live session: the browser goes to the sign-in page (``reason``: a login.* key)."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


def is_console(request: Request) -> bool:
    return request.url.path == CONSOLE_PREFIX or request.url.path.startswith(f"{CONSOLE_PREFIX}/")


def error_page(request: Request, status: int, message: str, detail: str = "") -> Response:
    staff = getattr(request.state, "staff", None)  # set once the session is known
    return render(
        request, "error.html", staff=staff if isinstance(staff, StaffMember) else None,
        status=status, message=message, detail=detail,
    )  # fmt: skip


MESSAGE_BY_STATUS = {
    400: "error.invalid",
    403: "error.forbidden",
    404: "error.not-found",
    410: "error.not-found",
    409: "error.conflict",
    412: "error.conflict",
}


def status_page(request: Request, status: int, detail: str = "") -> Response:
    """The page of a refusal the store (or routing) made: an OperationOutcome's status."""
    return error_page(request, status, MESSAGE_BY_STATUS.get(status, "error.failed"), detail)


async def refused_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleRefused)
    return error_page(request, exc.status, exc.message, exc.detail)


async def sign_in_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    query = {"reason": exc.reason} if exc.reason else {}
    if request.method == "GET":
        query["next"] = request.url.path
    return RedirectResponse(f"{CONSOLE_PREFIX}/login?{urlencode(query)}", status_code=303)
