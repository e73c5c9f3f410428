"""The doctor's pages: the referral worklist (incoming / outgoing / overdue), a referral with
its timeline and its moves (accept, reject with a reason, redirect), the consultation inbox
with its thread and report, and a patient's summary under the consent decision.

Every read and move goes through the store as the doctor (``staff.actor``): a referral of
another facility is as invisible here as through the API, and every page view is audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from hub.console.deps import PostedForm, form_posted_by, role_required
from hub.console.errors import ConsoleRefused
from hub.console.i18n import register_messages
from hub.console.queries import doctor as queries
from hub.console.rendering import render
from hub.console.staff import StaffMember, StaffRole
from hub.deps import unit_of_work
from referral.moves import accept_referral, redirect_referral, reject_referral

router = APIRouter(prefix="/console/doctor", include_in_schema=False)
Doctor = Annotated[StaffMember, Depends(role_required(StaffRole.practitioner))]
DoctorForm = Annotated[PostedForm, Depends(form_posted_by(StaffRole.practitioner))]
REFERRALS = "/console/doctor/referrals"


def _version(posted: PostedForm) -> int:
    text = posted.text("version", 12)
    if not text.isdigit() or int(text) < 1:
        raise ConsoleRefused(400, "error.invalid", "version")
    return int(text)


@router.get("/referrals")
def referral_worklist(request: Request, staff: Doctor, tab: str = "incoming") -> Response:
    current = queries.Tab(tab) if tab in set(queries.Tab) else queries.Tab.INCOMING
    with unit_of_work(staff.actor) as store:
        work = queries.worklist(store, staff.facility, current)
    return render(
        request, "doctor/referrals.html", staff=staff, tab=current, tabs=list(queries.Tab),
        work=work, flash=_flash(request),
    )  # fmt: skip


@router.get("/referrals/{task_id}")
def referral_page(request: Request, staff: Doctor, task_id: str) -> Response:
    with unit_of_work(staff.actor) as store:
        case = queries.referral(store, staff.facility, task_id)
    return render(request, "doctor/referral.html", staff=staff, case=case, flash=_flash(request))


def _flash(request: Request) -> str:
    done = request.query_params.get("done", "")
    return f"doctor.done.{done}" if done in ("accepted", "rejected", "redirected") else ""


def _back(task_id: str, done: str) -> Response:
    return RedirectResponse(f"{REFERRALS}/{task_id}?done={done}", status_code=303)


@router.post("/referrals/{task_id}/accept")
def accept(posted: DoctorForm, task_id: str) -> Response:
    with unit_of_work(posted.staff.actor) as store:
        accept_referral(store, task_id, version=_version(posted))
    return _back(task_id, "accepted")


@router.post("/referrals/{task_id}/reject")
def reject(posted: DoctorForm, task_id: str) -> Response:
    with unit_of_work(posted.staff.actor) as store:
        reject_referral(store, task_id, version=_version(posted), reason=posted.text("reason"))
    return _back(task_id, "rejected")


@router.post("/referrals/{task_id}/redirect")
def redirect(posted: DoctorForm, task_id: str) -> Response:
    owner = f"Organization/{posted.text('facility', 64)}"
    with unit_of_work(posted.staff.actor) as store:
        redirect_referral(store, task_id, version=_version(posted), owner=owner)
    return _back(task_id, "redirected")


register_messages(
    {
        "nav.doctor.referrals": ("转诊工作台", "Referrals"),
        "nav.doctor.consultations": ("会诊", "Consultations"),
        "doctor.tab.incoming": ("转入", "Incoming"),
        "doctor.tab.outgoing": ("转出", "Outgoing"),
        "doctor.tab.overdue": ("超时", "Overdue"),
        "doctor.col.authored": ("申请时间", "Requested"),
        "doctor.col.patient": ("患者", "Patient"),
        "doctor.col.reason": ("转诊原因", "Reason"),
        "doctor.col.from": ("转出机构", "From"),
        "doctor.col.to": ("接收机构", "To"),
        "doctor.col.status": ("状态", "Status"),
        "doctor.col.priority": ("优先级", "Priority"),
        "doctor.empty": ("没有转诊。", "No referrals."),
        "doctor.withheld": ("按患者授权未显示", "withheld by the patient's consent"),
        "doctor.some-withheld": (
            "部分记录因患者授权未显示。",
            "Some records are withheld by the patients' consent.",
        ),
        "doctor.open": ("查看", "Open"),
        "doctor.accept": ("接收", "Accept"),
        "doctor.reject": ("拒绝", "Reject"),
        "doctor.reject-reason": ("拒绝原因", "Reason for rejecting"),
        "doctor.redirect": ("改转其他机构", "Redirect"),
        "doctor.redirect-to": ("新的接收机构代码", "Facility code to send it to"),
        "doctor.timeline": ("流转记录", "Timeline"),
        "doctor.referral": ("转诊", "Referral"),
        "doctor.done.accepted": ("已接收转诊。", "Referral accepted."),
        "doctor.done.rejected": ("已拒绝转诊。", "Referral rejected."),
        "doctor.done.redirected": ("已改转。", "Referral redirected."),
        "doctor.summary": ("患者摘要", "Patient summary"),
        "status.requested": ("待处理", "requested"),
        "status.received": ("已收到", "received"),
        "status.accepted": ("已接收", "accepted"),
        "status.rejected": ("已拒绝", "rejected"),
        "status.in-progress": ("就诊中", "in progress"),
        "status.completed": ("已完成", "completed"),
        "status.cancelled": ("已取消", "cancelled"),
        "priority.routine": ("普通", "routine"),
        "priority.urgent": ("紧急", "urgent"),
        "priority.asap": ("尽快", "as soon as possible"),
        "priority.stat": ("立即", "immediately"),
    }
)
