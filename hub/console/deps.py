"""FastAPI dependencies of console pages: the signed-in staff member, the role check and the
CSRF check of a form.

    Doctor = Annotated[StaffMember, Depends(role_required(StaffRole.practitioner))]
    DoctorForm = Annotated[PostedForm, Depends(form_posted_by(StaffRole.practitioner))]

A wrong role or a missing or wrong CSRF token is refused with a 403 page and an audit record,
before the handler runs, so nothing changes.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Depends, Request
from starlette.datastructures import FormData

from hub.console.audit import REFUSED, record_event, record_refusal, unknown_actor
from hub.console.errors import ConsoleRefused, SignInRequired
from hub.console.sessions import EndedSession, SessionProblem, load_session
from hub.console.staff import StaffMember, StaffRole, actor_for
from hub.db import session_scope

SESSION_COOKIE = "hub_console"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class PostedForm:
    staff: StaffMember
    form: FormData

    def text(self, name: str, limit: int = 1000) -> str:
        value = self.form.get(name)
        return value.strip()[:limit] if isinstance(value, str) else ""


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def current_staff(request: Request) -> StaffMember:
    """The staff member of the session cookie; without a live one, off to the sign-in page."""
    token = request.cookies.get(SESSION_COOKIE, "")
    with session_scope() as session:
        loaded = load_session(session, token)
        if isinstance(loaded, EndedSession):
            if token:  # a session that ended, or a token the hub never issued
                who = unknown_actor(loaded.username or "-", client_address(request))
                record_event(
                    session, who, REFUSED, f"401: console session {loaded.problem}", failed=True
                )
        else:
            user, row = loaded.user, loaded.row
            role = StaffRole(user.role)
            staff = StaffMember(
                username=user.username,
                display_name=user.display_name,
                facility=user.facility,
                role=role,
                actor=actor_for(
                    user.username,
                    user.facility,
                    role,
                    practitioner=user.practitioner,
                    source_address=client_address(request),
                ),
                csrf_token=row.csrf_token,
                language=row.language,
            )
    if isinstance(loaded, EndedSession):
        expired = loaded.problem is SessionProblem.EXPIRED
        raise SignInRequired("login.expired" if expired else "")
    request.state.actor = staff.actor  # the API's error handlers audit under this actor
    request.state.staff = staff  # error pages show the staff member's menu and language
    return staff


def role_required(*roles: StaffRole) -> Callable[..., StaffMember]:
    """A dependency: the signed-in staff member, refused (403, audited) unless of ``roles``."""

    def staff_of_role(request: Request, staff: StaffMember = Depends(current_staff)) -> StaffMember:
        if staff.role not in roles:
            record_refusal(staff.actor, f"role {staff.role} may not open {request.url.path}")
            raise ConsoleRefused(403, "error.forbidden")
        return staff

    return staff_of_role


def form_posted_by(*roles: StaffRole) -> Callable[..., Awaitable[PostedForm]]:
    """A dependency: a POSTed form of a staff member of ``roles`` whose CSRF token matches."""

    async def checked_form(
        request: Request, staff: StaffMember = Depends(role_required(*roles))
    ) -> PostedForm:
        form = await request.form()
        sent = form.get(CSRF_FIELD)
        if not isinstance(sent, str) or not hmac.compare_digest(sent, staff.csrf_token):
            record_refusal(staff.actor, f"CSRF token missing or wrong on {request.url.path}")
            raise ConsoleRefused(403, "error.csrf")
        return PostedForm(staff, form)

    return checked_form
