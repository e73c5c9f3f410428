"""The data steward's pages: the patient index's review queue, an item with its two records side
by side and the comparison that scored them, its decision (link / not a match), a person's
records and link history with merge, split and undo.

Every read and change goes through ``hub.console.queries.steward`` as the steward
(``staff.actor``), on the patient index's stewardship services: each is audited, needs a
reason, and is refused (409) when the index's rules refuse it, exactly as through the API.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from hub.console.deps import PostedForm, form_posted_by, role_required
from hub.console.i18n import register_messages
from hub.console.queries import steward as queries
from hub.console.rendering import render
from hub.console.staff import StaffMember, StaffRole
from hub.deps import MAX_ROW_ID, unit_of_work
from hub.errors import InvalidRequest, NotFound
from hub.mpi.errors import ReasonRequired

router = APIRouter(prefix="/console/steward", include_in_schema=False)
Steward = Annotated[StaffMember, Depends(role_required(StaffRole.data_steward))]
StewardForm = Annotated[PostedForm, Depends(form_posted_by(StaffRole.data_steward))]
HOME = "/console/steward"
STATUSES = ("open", "claimed", "resolved")
_EID = re.compile(r"[A-Za-z0-9\-.]{1,32}")
DONE = ("match", "no-match", "merged", "split", "undone")


def _row_id(text: str) -> int:
    """A review or merge number from the URL; anything else is a forged id: 404 (audited by the
    app's error handler, as every refusal the console shows)."""
    if not (text.isascii() and text.isdigit() and len(text) < 20 and 0 < int(text) <= MAX_ROW_ID):
        raise NotFound("no such review item or merge")
    return int(text)


def _eid(text: str) -> str:
    if not _EID.fullmatch(text):
        raise NotFound("no person with that enterprise id")
    return text


def _reason(posted: PostedForm) -> str:
    reason = posted.text("reason", 512)
    if not reason or "\x00" in reason:
        raise ReasonRequired()
    return reason


def _flash(request: Request) -> str:
    done = request.query_params.get("done", "")
    return f"steward.done.{done}" if done in DONE else ""


@router.get("")
def review_queue(request: Request, staff: Steward, status: str = "open", page: int = 1) -> Response:
    current = status if status in STATUSES else "open"
    with unit_of_work(staff.actor) as store:
        found = queries.review_queue(store, status=current, page=max(1, min(page, 100_000)))
    return render(
        request, "steward/queue.html", staff=staff, tab=current, tabs=STATUSES,
        found=found, page=page, pages=max(1, -(-found.total // queries.PAGE)),
        flash=_flash(request),
    )  # fmt: skip


@router.get("/reviews/{review_id}")
def review_page(request: Request, staff: Steward, review_id: str) -> Response:
    with unit_of_work(staff.actor) as store:
        detail = queries.review_detail(store, _row_id(review_id))
    return render(request, "steward/review.html", staff=staff, detail=detail)


@router.post("/reviews/{review_id}/resolve")
def resolve(posted: StewardForm, review_id: str) -> Response:
    resolution = posted.text("resolution", 16)
    if resolution not in ("match", "no-match"):
        raise InvalidRequest("resolution must be match or no-match", expression=["resolution"])
    with unit_of_work(posted.staff.actor) as store:
        queries.resolve(store, _row_id(review_id), resolution, _reason(posted))
    return RedirectResponse(f"{HOME}?done={resolution}", status_code=303)


@router.get("/persons/{enterprise_id}")
def person_page(request: Request, staff: Steward, enterprise_id: str) -> Response:
    with unit_of_work(staff.actor) as store:
        person = queries.person_history(store, _eid(enterprise_id))
    return render(request, "steward/person.html", staff=staff, person=person, flash=_flash(request))


@router.post("/merges")
def merge(posted: StewardForm) -> Response:
    from_eid, into_eid = _eid(posted.text("from", 32)), _eid(posted.text("into", 32))
    with unit_of_work(posted.staff.actor) as store:
        done = queries.merge(store, from_eid, into_eid, _reason(posted))
    return RedirectResponse(f"{HOME}/persons/{done.into_enterprise_id}?done=merged", 303)


@router.post("/merges/{merge_id}/undo")
def undo(posted: StewardForm, merge_id: str) -> Response:
    with unit_of_work(posted.staff.actor) as store:
        done = queries.undo(store, _row_id(merge_id), _reason(posted))
    return RedirectResponse(f"{HOME}/persons/{done.from_enterprise_id}?done=undone", 303)


@router.post("/persons/{enterprise_id}/split")
def split(posted: StewardForm, enterprise_id: str) -> Response:
    chosen = [v for v in posted.form.getlist("source") if isinstance(v, str)]
    sources = [tuple(v.split("|", 1)) for v in chosen[:500] if "|" in v]
    if not sources:
        raise InvalidRequest("choose at least one source record", expression=["source"])
    with unit_of_work(posted.staff.actor) as store:
        done = queries.split(store, _eid(enterprise_id),
                             [(f, s) for f, s in sources], _reason(posted))  # fmt: skip
    return RedirectResponse(f"{HOME}/persons/{done.enterprise_id}?done=split", 303)


register_messages(
    {
        "nav.steward": ("主索引审核", "Patient index review"),
        "steward.queue": ("待审核的疑似重复", "Possible duplicates to review"),
        "steward.status.open": ("待处理", "Open"),
        "steward.status.claimed": ("处理中", "Claimed"),
        "steward.status.resolved": ("已处理", "Resolved"),
        "steward.col.item": ("编号", "Item"),
        "steward.col.created": ("进入队列", "Queued"),
        "steward.col.score": ("匹配概率", "Probability"),
        "steward.col.record": ("来源记录", "Source record"),
        "steward.col.person": ("当前归属", "Linked to"),
        "steward.col.candidate": ("疑似同一人", "Possibly"),
        "steward.col.resolution": ("结论", "Decision"),
        "steward.empty": ("队列为空。", "The queue is empty."),
        "steward.open": ("审核", "Review"),
        "steward.total": ("共 {total} 条", "{total} items"),
        "steward.page": ("第 {page} / {pages} 页", "page {page} of {pages}"),
        "steward.review": ("审核 #{id}", "Review #{id}"),
        "steward.records": ("两条记录对照", "The two records side by side"),
        "steward.source": ("新登记的记录", "The record registered"),
        "steward.candidate": ("候选人员的记录", "The candidate person's record"),
        "steward.field.name": ("姓名", "Name"),
        "steward.field.gender": ("性别", "Sex"),
        "steward.field.birth": ("出生日期", "Birth date"),
        "steward.field.identifiers": ("标识", "Identifiers"),
        "steward.field.phone": ("电话", "Phone"),
        "steward.field.address": ("地址", "Address"),
        "steward.field.organization": ("登记机构", "Registered by"),
        "steward.withheld": ("按患者授权未显示", "withheld by the patient's consent"),
        "steward.missing": ("记录已不存在", "no longer there"),
        "steward.none": ("无对应的患者资源", "no Patient resource"),
        "steward.comparison": ("逐项比对与权重", "Field comparisons and weights"),
        "steward.col.field": ("比对项", "Comparison"),
        "steward.col.level": ("一致程度", "Agreement"),
        "steward.col.weight": ("权重 (log2 m/u)", "Weight (log2 m/u)"),
        "steward.cmp.resident_id": ("身份证号", "Resident ID"),
        "steward.cmp.family_name": ("姓", "Family name"),
        "steward.cmp.given_name": ("名", "Given name"),
        "steward.cmp.birth_date": ("出生日期", "Birth date"),
        "steward.cmp.sex": ("性别", "Sex"),
        "steward.cmp.phone": ("电话", "Phone"),
        "steward.cmp.address": ("地址", "Address"),
        "steward.cmp.insurance_number": ("医保号", "Insurance number"),
        "steward.cmp.other_id": ("其他证件号", "Other identifier"),
        "steward.cmp.postcode": ("邮编", "Postcode"),
        "steward.cmp.house_number": ("门牌号", "House number"),
        "steward.cmp.address_parts": ("地址要素", "Address parts"),
        "steward.missing-field": ("缺失（不计分）", "missing (neutral)"),
        "steward.prior": ("先验", "Prior"),
        "steward.sum": ("合计权重", "Match weight"),
        "steward.probability": ("匹配概率", "Match probability"),
        "steward.queued": ("入队时概率 {p}", "queued at probability {p}"),
        "steward.ceiling": ("家庭规则上限", "Household ceiling"),
        "steward.decision": ("模型结论", "Model's decision"),
        "steward.model": ("模型 {version}", "model {version}"),
        "steward.no-candidate": ("候选人员已无其他记录。", "The candidate has no other record."),
        "steward.decide": ("处理", "Decide"),
        "steward.reason": ("理由（必填）", "Reason (required)"),
        "steward.match": ("确认同一人并关联", "Same person: link"),
        "steward.no-match": ("不是同一人", "Not a match"),
        "steward.merge": ("合并两个人员", "Merge the two persons"),
        "steward.merge-into": ("将 {from_} 并入 {into}", "merge {from_} into {into}"),
        "steward.history": ("人员记录与关联历史", "Records and link history"),
        "steward.person": ("人员 {eid}", "Person {eid}"),
        "steward.person-status": ("状态", "Status"),
        "steward.sources": ("来源记录", "Source records"),
        "steward.col.state": ("关联方式", "Linked by"),
        "steward.col.at": ("时间", "When"),
        "steward.col.action": ("操作", "Action"),
        "steward.col.from": ("从", "From"),
        "steward.col.to": ("到", "To"),
        "steward.col.actor": ("操作人", "By"),
        "steward.col.reason": ("理由", "Reason"),
        "steward.split": ("拆分所选记录为新人员", "Split the chosen records off as a new person"),
        "steward.undo": ("撤销合并", "Undo merge"),
        "steward.done.match": ("已关联为同一人。", "Linked as one person."),
        "steward.done.no-match": ("已标记为不是同一人。", "Marked as not a match."),
        "steward.done.merged": ("已合并。", "Merged."),
        "steward.done.split": ("已拆分。", "Split."),
        "steward.done.undone": ("已撤销合并。", "Merge undone."),
    }
)
