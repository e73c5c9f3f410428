"""The referral desk's pages: its facility's slots and their places with the fill-rate chart,
the day's bookings (marking an arrival or a no-show), and the day's no-shows.

The facility is always the signed-in desk's own (no facility in a URL to forge); every read and
mark goes through ``referral.scheduling.desk`` as the desk's actor, so the store's consent and
audit apply, and a forged or foreign appointment id is refused there (404 / 403).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from hub.console.audit import record_refusal
from hub.console.charts import chart_language
from hub.console.deps import PostedForm, form_posted_by, role_required
from hub.console.errors import ConsoleRefused
from hub.console.i18n import register_messages, translator
from hub.console.queries.charts import fill_rate_chart
from hub.console.rendering import render
from hub.console.staff import StaffMember, StaffRole
from hub.deps import unit_of_work
from referral.scheduling import desk
from referral.scheduling.config import load_booking_config

router = APIRouter(prefix="/console/desk", include_in_schema=False)
Desk = Annotated[StaffMember, Depends(role_required(StaffRole.referral_desk))]
DeskForm = Annotated[PostedForm, Depends(form_posted_by(StaffRole.referral_desk))]
FILL_RATE_DAYS = 7
TABS = ("slots", "bookings", "noshows")


def _day(staff: StaffMember, text: str | None) -> date:
    if not text:
        return desk.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        record_refusal(staff.actor, "not a day (YYYY-MM-DD)", 400)
        raise ConsoleRefused(400, "error.invalid", "day") from None


def _page(request: Request, staff: StaffMember, tab: str, day: date, **context: Any) -> Response:
    return render(
        request, f"desk/{tab}.html", staff=staff, tab=tab, tabs=TABS, day=day,
        previous=day - timedelta(days=1), next=day + timedelta(days=1),
        zone=load_booking_config().timezone, **context,
    )  # fmt: skip


@router.get("")
def slots(request: Request, staff: Desk, day: str | None = None) -> Response:
    shown = _day(staff, day)
    t = translator(chart_language(staff.language))
    with unit_of_work(staff.actor) as store:
        lines = desk.day_slots(store, staff.facility, shown)
        chart = fill_rate_chart(store, t, staff.facility, shown, FILL_RATE_DAYS)
    return _page(request, staff, "slots", shown, slots=lines, chart=chart)


@router.get("/bookings")
def bookings(request: Request, staff: Desk, day: str | None = None) -> Response:
    shown = _day(staff, day)
    with unit_of_work(staff.actor) as store:
        lines = desk.day_bookings(store, staff.facility, shown)
    done = request.query_params.get("done", "")
    flash = f"desk.done.{done}" if done in desk.DESK_MARKS else ""
    return _page(request, staff, "bookings", shown, bookings=lines, flash=flash)


@router.get("/noshows")
def noshows(request: Request, staff: Desk, day: str | None = None) -> Response:
    shown = _day(staff, day)
    with unit_of_work(staff.actor) as store:
        lines = desk.day_noshows(store, staff.facility, shown)
    return _page(request, staff, "noshows", shown, bookings=lines)


@router.post("/bookings/{appointment_id}/mark")
def mark(posted: DeskForm, appointment_id: str) -> Response:
    status = posted.text("status", 16)
    if status not in desk.DESK_MARKS:
        record_refusal(posted.staff.actor, f"the desk marks arrived or noshow, not {status!r}", 400)
        raise ConsoleRefused(400, "error.invalid", "status")
    day = _day(posted.staff, posted.text("day", 10) or None)
    with unit_of_work(posted.staff.actor) as store:
        desk.mark_attendance(store, appointment_id, status)
    return RedirectResponse(
        f"/console/desk/bookings?day={day.isoformat()}&done={status}", status_code=303
    )


register_messages(
    {
        "nav.desk": ("预约服务台", "Referral desk"),
        "desk.tab.slots": ("号源", "Slots"),
        "desk.tab.bookings": ("当日预约", "Bookings of the day"),
        "desk.tab.noshows": ("爽约", "No-shows"),
        "desk.day": ("日期", "Day"),
        "desk.previous": ("前一天", "Previous day"),
        "desk.next": ("后一天", "Next day"),
        "desk.col.time": ("时间", "Time"),
        "desk.col.department": ("科室", "Department"),
        "desk.col.capacity": ("号源数", "Places"),
        "desk.col.reserved": ("转诊预留", "Kept for referrals"),
        "desk.col.booked": ("已约", "Taken"),
        "desk.col.free": ("剩余", "Free"),
        "desk.col.patient": ("患者", "Patient"),
        "desk.col.status": ("状态", "Status"),
        "desk.no-slots": ("当日没有号源。", "No slots on this day."),
        "desk.no-bookings": ("当日没有预约。", "No bookings on this day."),
        "desk.no-noshows": ("当日没有爽约。", "No no-shows on this day."),
        "desk.withheld": ("按患者授权未显示", "withheld by the patient's consent"),
        "desk.arrived": ("已到诊", "Arrived"),
        "desk.noshow": ("爽约", "No-show"),
        "desk.done.arrived": ("已登记到诊。", "Marked arrived."),
        "desk.done.noshow": (
            "已登记爽约，号源已释放。",
            "Marked no-show; the place is free again.",
        ),
        "appointment.booked": ("已预约", "booked"),
        "appointment.pending": ("保留中", "held"),
        "appointment.arrived": ("已到诊", "arrived"),
        "appointment.fulfilled": ("已完成", "fulfilled"),
        "appointment.noshow": ("爽约", "no-show"),
        "appointment.cancelled": ("已取消", "cancelled"),
        "appointment.checked-in": ("已签到", "checked in"),
    }
)
