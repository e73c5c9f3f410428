"""The fund auditor's pages (医保稽核): findings by rule and facility, the findings list, one
finding's evidence with its review (confirm with the amount to recover, or dismiss), a day's
ledger reconciliation, and the monthly charts.

Every read goes through the store as the auditor (``staff.actor``, role ``insurance-auditor``)
and every change through the claims audit's services, which check the role and record it: a
finding reviewed here is the same version history as one reviewed through the API.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from hub.console.deps import PostedForm, form_posted_by, role_required
from hub.console.i18n import register_messages
from hub.console.queries import auditor as queries
from hub.console.queries import auditor_evidence as evidence
from hub.console.rendering import render
from hub.console.staff import StaffMember, StaffRole
from hub.deps import unit_of_work
from hub.errors import InvalidRequest, NotFound
from hub.fhir.search.dates import REGION_TZ
from insurance.claims_audit.report_figures import Month, ReviewState, rule_label
from insurance.money import yuan

router = APIRouter(prefix="/console/auditor", include_in_schema=False)
Auditor = Annotated[StaffMember, Depends(role_required(StaffRole.auditor))]
AuditorForm = Annotated[PostedForm, Depends(form_posted_by(StaffRole.auditor))]
HOME = "/console/auditor"
_FINDING_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # a FHIR id
_FACILITY = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def _filter(month: str, rule: str, facility: str, state: str) -> queries.FindingFilter:
    try:
        return queries.FindingFilter.parse(
            month or str(Month.of(datetime.now(UTC).date())), rule, facility, state
        )
    except queries.BadFilter as bad:
        raise InvalidRequest(f"{bad} is not valid", expression=[str(bad)]) from None


def _finding_id(text: str) -> str:
    if not _FINDING_ID.fullmatch(text):
        raise NotFound("no such finding")
    return text


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest("the day is YYYY-MM-DD", expression=["day"]) from None


def _facility(text: str) -> str:
    if not _FACILITY.fullmatch(text):
        raise InvalidRequest("not a facility code", expression=["facility"])
    return text


def _context(chosen: queries.FindingFilter) -> dict[str, Any]:
    return {
        "chosen": chosen, "rules": queries.RULES, "states": list(ReviewState),
        "rule_label": rule_label, "yuan": yuan,
    }  # fmt: skip


@router.get("")
def findings_summary(
    request: Request, staff: Auditor, month: str = "", rule: str = "", facility: str = "",
    state: str = "",
) -> Response:  # fmt: skip
    chosen = _filter(month, rule, facility, state)
    with unit_of_work(staff.actor) as store:
        summary = queries.findings_summary(store, chosen)
    return render(request, "auditor/summary.html", staff=staff, summary=summary,
                  **_context(chosen))  # fmt: skip


@router.get("/findings")
def findings_list(
    request: Request, staff: Auditor, month: str = "", rule: str = "", facility: str = "",
    state: str = "", page: int = 1,
) -> Response:  # fmt: skip
    chosen = _filter(month, rule, facility, state)
    with unit_of_work(staff.actor) as store:
        found = queries.findings_page(store, chosen, max(1, min(page, 100_000)))
    return render(request, "auditor/findings.html", staff=staff, found=found,
                  flash=_flash(request), **_context(chosen))  # fmt: skip


@router.get("/findings/{issue_id}")
def finding_page(request: Request, staff: Auditor, issue_id: str) -> Response:
    with unit_of_work(staff.actor) as store:
        shown = evidence.finding_evidence(store, _finding_id(issue_id))
    return render(request, "auditor/finding.html", staff=staff, evidence=shown,
                  rule_label=rule_label, yuan=yuan, flash=_flash(request))  # fmt: skip


@router.post("/findings/{issue_id}/review")
def review(posted: AuditorForm, issue_id: str) -> Response:
    finding = _finding_id(issue_id)
    reason = posted.text("reason", 1000)
    if not reason:
        raise InvalidRequest("a review states its reason", expression=["reason"])
    with unit_of_work(posted.staff.actor) as store:
        try:
            queries.review(store, finding, posted.text("outcome", 16), reason,
                           posted.text("amount", 20))  # fmt: skip
        except queries.BadFilter as bad:
            raise InvalidRequest(f"{bad} is not valid", expression=[str(bad)]) from None
    return RedirectResponse(f"{HOME}/findings/{finding}?done=reviewed", status_code=303)


@router.get("/reconciliation")
def reconciliation(request: Request, staff: Auditor, facility: str = "", day: str = "") -> Response:
    result = None
    if facility and day:
        with unit_of_work(staff.actor) as store:
            result = evidence.day_result(store, _facility(facility), _day(day))
    return render(
        request, "auditor/reconciliation.html", staff=staff, facility=facility, day=day,
        result=result, asked=bool(facility and day), flash=_flash(request),
    )  # fmt: skip


@router.post("/reconciliation")
def rerun(posted: AuditorForm) -> Response:
    facility, day = _facility(posted.text("facility", 64)), _day(posted.text("day", 10))
    with unit_of_work(posted.staff.actor) as store:
        evidence.rerun(store, facility, day)
    return RedirectResponse(
        f"{HOME}/reconciliation?facility={facility}&day={day.isoformat()}&done=reconciled", 303
    )


@router.get("/charts")
def charts(request: Request, staff: Auditor, month: str = "", facility: str = "") -> Response:
    chosen = _filter(month, "", facility, "")
    with unit_of_work(staff.actor) as store:
        drawn = queries.monthly_charts(store, chosen.month, chosen.facility)
    counted = drawn.counted.astimezone(REGION_TZ).strftime("%H:%M")
    return render(request, "auditor/charts.html", staff=staff, charts=drawn.images,
                  chosen=chosen, counted=counted)  # fmt: skip


def _flash(request: Request) -> str:
    done = request.query_params.get("done", "")
    return f"auditor.done.{done}" if done in ("reviewed", "reconciled") else ""


register_messages(
    {
        "nav.auditor": ("稽核发现", "Findings"),
        "nav.auditor.findings": ("发现列表", "Findings list"),
        "nav.auditor.reconciliation": ("对账", "Reconciliation"),
        "nav.auditor.charts": ("月度图表", "Monthly charts"),
        "auditor.summary": ("稽核发现：按规则与机构", "Findings by rule and facility"),
        "auditor.filter": ("筛选", "Filter"),
        "auditor.month": ("发现月份", "Month identified"),
        "auditor.rule": ("规则", "Rule"),
        "auditor.facility": ("机构", "Facility"),
        "auditor.state": ("状态", "State"),
        "auditor.any": ("全部", "all"),
        "auditor.state.open": ("待审核", "open"),
        "auditor.state.confirmed": ("已确认", "confirmed"),
        "auditor.state.dismissed": ("已排除", "dismissed"),
        "auditor.total": (
            "共 {count} 条，涉及金额 ¥{amount}",
            "{count} findings, ¥{amount} at risk",
        ),
        "auditor.col.count": ("条数", "Findings"),
        "auditor.col.at-risk": ("涉及金额 (元)", "At risk (yuan)"),
        "auditor.col.recover": ("追回 (元)", "To recover (yuan)"),
        "auditor.col.open": ("待审核", "Open"),
        "auditor.col.confirmed": ("已确认", "Confirmed"),
        "auditor.col.dismissed": ("已排除", "Dismissed"),
        "auditor.col.finding": ("发现", "Finding"),
        "auditor.col.day": ("服务日期", "Service day"),
        "auditor.col.patient": ("参保人", "Patient"),
        "auditor.col.detail": ("说明", "Detail"),
        "auditor.by-rule": ("按规则", "By rule"),
        "auditor.by-facility": ("按机构", "By facility"),
        "auditor.list": ("查看列表", "List"),
        "auditor.empty": ("没有符合条件的发现。", "No findings match."),
        "auditor.page": (
            "第 {page} / {pages} 页，共 {total} 条",
            "page {page} of {pages}, {total} findings",
        ),
        "auditor.finding": ("稽核发现 {id}", "Finding {id}"),
        "auditor.evidence": ("证据对照", "Evidence side by side"),
        "auditor.type.Claim": ("结算单", "Claims"),
        "auditor.type.Encounter": ("就诊", "Encounters"),
        "auditor.type.MedicationDispense": ("发药", "Dispenses"),
        "auditor.type.MedicationRequest": ("处方", "Prescriptions"),
        "auditor.withheld": ("按授权未显示", "withheld"),
        "auditor.missing": ("记录已不存在", "no longer there"),
        "auditor.col.item": ("项目", "Item"),
        "auditor.col.date": ("日期", "Date"),
        "auditor.col.quantity": ("数量", "Quantity"),
        "auditor.col.price": ("单价", "Unit price"),
        "auditor.col.encounter": ("就诊", "Encounter"),
        "auditor.review": ("审核", "Review"),
        "auditor.reviewed": ("审核结果", "Review"),
        "auditor.outcome.confirmed": ("确认违规", "Confirm"),
        "auditor.outcome.dismissed": ("排除", "Dismiss"),
        "auditor.amount": (
            "追回金额 (元，确认时填写)",
            "Amount to recover (yuan, when confirming)",
        ),
        "auditor.reason": ("理由（必填）", "Reason (required)"),
        "auditor.done.reviewed": ("审核已记录。", "The review is recorded."),
        "auditor.done.reconciled": ("已重新对账。", "The day was reconciled again."),
        "auditor.reconciliation": ("对账", "Reconciliation of a day"),
        "auditor.day": ("日期", "Day"),
        "auditor.show": ("查看", "Show"),
        "auditor.rerun": ("重新对账", "Reconcile again"),
        "auditor.no-result": ("该日尚无对账结果。", "No reconciliation of that day yet."),
        "auditor.balanced": ("平账", "Balanced"),
        "auditor.unbalanced": ("不平", "Not balanced"),
        "auditor.side.facility": ("机构", "Facility"),
        "auditor.side.hub": ("平台", "Hub"),
        "auditor.col.setl": ("结算号", "Settlement"),
        "auditor.col.difference": ("差异", "Difference"),
        "auditor.charts": ("月度图表", "Monthly charts"),
        "auditor.charts-counted": (
            "{at} 统计（数字保留五分钟）",
            "As counted at {at} (kept five minutes)",
        ),
        "auditor.chart-month": ("服务月份", "Service month"),
    }
)
