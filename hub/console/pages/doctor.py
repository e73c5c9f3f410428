"""The doctor's pages: the referral worklist (incoming / outgoing / overdue), a referral with
its timeline and its moves (accept, reject with a reason, redirect), the consultation inbox
with its thread and report, and a patient's summary under the consent decision.

Every read and move goes through the store as the doctor (``staff.actor``), and the moves are
the referral service's own (``referral.moves``, ``referral.consultation.thread``): a referral
of another facility is as invisible here as through the API, and every page view is audited.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from hub.console.deps import PostedForm, form_posted_by, role_required
from hub.console.errors import ConsoleRefused
from hub.console.pages import doctor_words  # noqa: F401  (registers the pages' words)
from hub.console.queries import doctor as queries
from hub.console.queries.consultations import consultation
from hub.console.queries.patient_summary import patient_summary
from hub.console.rendering import render
from hub.console.staff import StaffMember, StaffRole
from hub.deps import unit_of_work
from hub.errors import NotFound, not_available
from referral.consultation.thread import issue_report, post_message
from referral.moves import accept_referral, redirect_referral, reject_referral

router = APIRouter(prefix="/console/doctor", include_in_schema=False)
Doctor = Annotated[StaffMember, Depends(role_required(StaffRole.practitioner))]
DoctorForm = Annotated[PostedForm, Depends(form_posted_by(StaffRole.practitioner))]
Section = Literal["referrals", "consultations"]
DONE = ("accepted", "rejected", "redirected", "sent", "reported")
CONSULTATION_TABS = (queries.Tab.INCOMING, queries.Tab.OUTGOING)


def _version(posted: PostedForm) -> int:
    text = posted.text("version", 12)
    if not text.isdigit() or int(text) < 1:
        raise ConsoleRefused(400, "error.invalid", "version")
    return int(text)


def _flash(request: Request) -> str:
    done = request.query_params.get("done", "")
    return f"doctor.done.{done}" if done in DONE else ""


def _tab(tab: str, allowed: tuple[queries.Tab, ...]) -> queries.Tab:
    return next((each for each in allowed if each == tab), allowed[0])


def _back(section: Section, task_id: str, done: str) -> Response:
    return RedirectResponse(f"/console/doctor/{section}/{task_id}?done={done}", status_code=303)


@router.get("/referrals")
def referral_worklist(request: Request, staff: Doctor, tab: str = "incoming") -> Response:
    current = _tab(tab, tuple(queries.Tab))
    with unit_of_work(staff.actor) as store:
        work = queries.worklist(store, staff.facility, current)
    return render(
        request, "doctor/referrals.html", staff=staff, tab=current, tabs=list(queries.Tab),
        work=work, section="referrals", flash=_flash(request),
    )  # fmt: skip


@router.get("/referrals/{task_id}")
def referral_page(request: Request, staff: Doctor, task_id: str) -> Response:
    with unit_of_work(staff.actor) as store:
        case = queries.referral(store, staff.facility, task_id)
    return render(request, "doctor/referral.html", staff=staff, case=case, flash=_flash(request))


@router.get("/consultations")
def consultation_inbox(request: Request, staff: Doctor, tab: str = "incoming") -> Response:
    current = _tab(tab, CONSULTATION_TABS)
    with unit_of_work(staff.actor) as store:
        work = queries.worklist(store, staff.facility, current, queries.Kind.CONSULTATION)
    return render(
        request, "doctor/referrals.html", staff=staff, tab=current, tabs=CONSULTATION_TABS,
        work=work, section="consultations", flash=_flash(request),
    )  # fmt: skip


@router.get("/consultations/{task_id}")
def consultation_page(request: Request, staff: Doctor, task_id: str) -> Response:
    with unit_of_work(staff.actor) as store:
        found = consultation(store, staff.facility, task_id)
        if found is None:
            raise NotFound(not_available(f"Task/{task_id}"))
    return render(
        request, "doctor/consultation.html", staff=staff, consult=found, case=found.case,
        flash=_flash(request),
    )  # fmt: skip


@router.get("/patients/{patient_id}")
def patient_page(request: Request, staff: Doctor, patient_id: str) -> Response:
    with unit_of_work(staff.actor) as store:
        summary = patient_summary(store, patient_id)
    return render(request, "doctor/patient.html", staff=staff, summary=summary)


@router.post("/{section}/{task_id}/accept")
def accept(posted: DoctorForm, section: Section, task_id: str) -> Response:
    with unit_of_work(posted.staff.actor) as store:
        accept_referral(store, task_id, version=_version(posted))
    return _back(section, task_id, "accepted")


@router.post("/{section}/{task_id}/reject")
def reject(posted: DoctorForm, section: Section, task_id: str) -> Response:
    with unit_of_work(posted.staff.actor) as store:
        reject_referral(store, task_id, version=_version(posted), reason=posted.text("reason"))
    return _back(section, task_id, "rejected")


@router.post("/referrals/{task_id}/redirect")
def redirect(posted: DoctorForm, task_id: str) -> Response:
    owner = f"Organization/{posted.text('facility', 64)}"
    with unit_of_work(posted.staff.actor) as store:
        redirect_referral(store, task_id, version=_version(posted), owner=owner)
    return _back("referrals", task_id, "redirected")


@router.post("/consultations/{task_id}/message")
def message(posted: DoctorForm, task_id: str) -> Response:
    with unit_of_work(posted.staff.actor) as store:
        case = queries.referral(store, posted.staff.facility, task_id)
        post_message(store, _task_body(case), posted.text("text", 4001))
    return _back("consultations", task_id, "sent")


@router.post("/consultations/{task_id}/report")
def report(posted: DoctorForm, task_id: str) -> Response:
    with unit_of_work(posted.staff.actor) as store:
        case = queries.referral(store, posted.staff.facility, task_id)
        issue_report(store, _task_body(case), posted.text("conclusion", 4001))
    return _back("consultations", task_id, "reported")


def _task_body(case: queries.Referral) -> dict[str, object]:
    if case.kind is not queries.Kind.CONSULTATION:
        raise ConsoleRefused(404, "error.not-found")
    return case.task
