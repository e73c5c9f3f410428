"""The operator's pages (TOTP at sign-in): facilities and their HL7 v2 connections, the message
log with errors and replay, dead letters, break-glass accesses awaiting review, the audit
chain's status (and a verification on request), the field keys, and the region's charts.

Each page calls the service the API and the CLI use, as the operator's actor, and each look is
audited (``hub.console.queries.operator``); a replay or a review changes state only through
``adapters.hl7v2.messages.replay_messages`` and ``hub.audit.review.review_break_glass``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from adapters.hl7v2 import messages
from adapters.hl7v2.inbox_queue import get_dispatcher
from adapters.hl7v2.models import MessageStatus
from hub.console.audit import record_refusal
from hub.console.charts import chart_language
from hub.console.deps import PostedForm, form_posted_by, role_required
from hub.console.errors import ConsoleRefused
from hub.console.i18n import register_messages, translator
from hub.console.queries import charts
from hub.console.queries import operator as queries
from hub.console.rendering import render
from hub.console.staff import StaffMember, StaffRole
from hub.deps import MAX_ROW_ID, unit_of_work
from hub.fhir.search.dates import REGION_TZ
from referral.scheduling.desk import today

router = APIRouter(prefix="/console/operator", include_in_schema=False)
Operator = Annotated[StaffMember, Depends(role_required(StaffRole.operator))]
OperatorForm = Annotated[PostedForm, Depends(form_posted_by(StaffRole.operator))]
BASE = "/console/operator"
CHART_DAYS = 7
PAGES = ("connections", "messages", "dead", "break-glass", "audit", "keys", "charts")


def _page(request: Request, staff: StaffMember, page: str, **context: Any) -> Response:
    done = request.query_params.get("done", "")
    flash = f"operator.done.{done}" if done in ("replayed", "reviewed") else ""
    return render(
        request, f"operator/{page}.html", staff=staff, page=page, pages=PAGES, flash=flash,
        zone=REGION_TZ, **context,
    )  # fmt: skip


def _row_id(staff: StaffMember, text: str) -> int:
    """A message's or audit record's number from the URL; anything else is no such row."""
    if not text.isdigit() or not 1 <= int(text) <= MAX_ROW_ID:
        record_refusal(staff.actor, f"no row {text[:40]!r}", 404)
        raise ConsoleRefused(404, "error.not-found")
    return int(text)


@router.get("")
def connections(request: Request, staff: Operator) -> Response:
    with unit_of_work(staff.actor) as store:
        seen = queries.overview(store.session, staff.actor)
    return _page(request, staff, "connections", overview=seen)


@router.get("/messages")
def message_log(
    request: Request, staff: Operator, status: str = "", facility: str = "", page: int = 0
) -> Response:
    chosen = MessageStatus(status) if status in set(MessageStatus) else None
    with unit_of_work(staff.actor) as store:
        found = queries.message_log(
            store.session, staff.actor, status=chosen, facility=facility[:64],
            page=max(0, min(page, 10_000)),
        )  # fmt: skip
    tab = "dead" if chosen is MessageStatus.DEAD else "messages"
    return _page(
        request, staff, "messages", found=found, status_filter=status, facility=facility[:64],
        statuses=list(MessageStatus), number=page, size=queries.PAGE, tab=tab,
    )  # fmt: skip


@router.get("/dead")
def dead_letters() -> Response:
    return RedirectResponse(f"{BASE}/messages?status=dead", status_code=303)


@router.get("/messages/{message_id}")
def message(request: Request, staff: Operator, message_id: str) -> Response:
    with unit_of_work(staff.actor) as store:
        shown = messages.show_message(
            store.session, store.cipher, staff.actor, _row_id(staff, message_id)
        )
    return _page(request, staff, "message", message=shown, tab="messages")


@router.post("/messages/{message_id}/replay")
def replay(posted: OperatorForm, message_id: str) -> Response:
    reason = posted.text("reason", 512)
    if not reason:
        record_refusal(posted.staff.actor, "a replay without a reason", 400)
        raise ConsoleRefused(400, "error.invalid", "reason")
    row_id = _row_id(posted.staff, message_id)
    with unit_of_work(posted.staff.actor) as store:
        _, facilities = messages.replay_messages(
            store.session, posted.staff.actor, [row_id], reason=reason
        )
    get_dispatcher().notify(facilities)  # after the commit; the sweeper covers a lost one
    return RedirectResponse(f"{BASE}/messages/{row_id}?done=replayed", status_code=303)


@router.get("/break-glass")
def break_glass(request: Request, staff: Operator) -> Response:
    with unit_of_work(staff.actor) as store:
        total, accesses = queries.break_glass(store.session, staff.actor)
    return _page(request, staff, "break-glass", total=total, accesses=accesses)


@router.post("/break-glass/{seq}/review")
def review(posted: OperatorForm, seq: str) -> Response:
    with unit_of_work(posted.staff.actor) as store:
        queries.review(
            store.session, posted.staff.actor, _row_id(posted.staff, seq), posted.text("note", 2000)
        )
    return RedirectResponse(f"{BASE}/break-glass?done=reviewed", status_code=303)


@router.get("/audit")
def audit_chain(request: Request, staff: Operator) -> Response:
    with unit_of_work(staff.actor) as store:
        status = queries.chain_status(store.session, staff.actor)
    return _page(request, staff, "audit", chain=status)


@router.post("/audit/verify")
def verify(request: Request, posted: OperatorForm) -> Response:
    with unit_of_work(posted.staff.actor) as store:
        status = queries.chain_status(store.session, posted.staff.actor, verify=True)
    return _page(request, posted.staff, "audit", chain=status)


@router.get("/keys")
def keys(request: Request, staff: Operator, count: bool = False) -> Response:
    with unit_of_work(staff.actor) as store:
        status = queries.key_status(store.session, staff.actor, store.cipher, count=count)
    return _page(request, staff, "keys", keys=status)


@router.get("/charts")
def dashboard(request: Request, staff: Operator) -> Response:
    t = translator(chart_language(staff.language))
    first = today() - timedelta(days=CHART_DAYS - 1)
    with unit_of_work(staff.actor) as store:
        drawn = [
            charts.referral_chart(store, t, first, CHART_DAYS),
            charts.findings_chart(store, t, first),
            charts.settlement_chart(store, t, first, CHART_DAYS),
        ]
    return _page(request, staff, "charts", charts=drawn)


register_messages(
    {
        "nav.operator": ("运维", "Operations"),
        "operator.page.connections": ("机构与接口", "Facilities and connections"),
        "operator.page.messages": ("HL7 消息日志", "HL7 message log"),
        "operator.page.dead": ("死信", "Dead letters"),
        "operator.page.break-glass": ("紧急访问待审", "Break-glass to review"),
        "operator.page.audit": ("审计链", "Audit chain"),
        "operator.page.keys": ("密钥", "Keys"),
        "operator.page.charts": ("统计图", "Charts"),
        "operator.page.message": ("消息", "Message"),
        "operator.col.facility": ("机构", "Facility"),
        "operator.col.last": ("最近消息", "Last message"),
        "operator.col.received": ("24小时消息数", "Messages (24 h)"),
        "operator.col.failed": ("失败", "Failed"),
        "operator.col.rate": ("错误率", "Error rate"),
        "operator.col.dead": ("死信", "Dead letters"),
        "operator.col.id": ("编号", "Id"),
        "operator.col.received-at": ("接收时间", "Received"),
        "operator.col.type": ("类型", "Type"),
        "operator.col.control": ("控制号", "Control id"),
        "operator.col.status": ("状态", "Status"),
        "operator.col.ack": ("应答", "ACK"),
        "operator.col.error": ("错误", "Error"),
        "operator.col.when": ("时间", "When"),
        "operator.col.who": ("访问者", "Who"),
        "operator.col.patients": ("患者", "Patients"),
        "operator.col.reason": ("理由", "Reason"),
        "operator.col.overrode": ("越过授权", "Overrode consent"),
        "operator.summary.dead": ("死信", "Dead letters"),
        "operator.summary.break-glass": ("待审紧急访问", "Break-glass to review"),
        "operator.summary.linked": ("审计链已链接至", "Audit chain linked up to record"),
        "operator.summary.waiting": ("待链接", "waiting to be linked"),
        "operator.no-messages": ("没有消息。", "No messages."),
        "operator.no-break-glass": ("没有待审的紧急访问。", "No break-glass access awaits review."),
        "operator.filter": ("筛选", "Filter"),
        "operator.all": ("全部", "all"),
        "operator.next-page": ("下一页", "Next page"),
        "operator.replay": ("重放", "Replay"),
        "operator.replay-reason": ("重放原因", "Why replay (the fix)"),
        "operator.raw": ("原始消息", "Raw message"),
        "operator.resources": ("生成的资源", "Resources produced"),
        "operator.review": ("标记已审", "Mark reviewed"),
        "operator.review-note": ("审核意见", "Review note"),
        "operator.done.replayed": (
            "已重放，消息重新进入处理队列。",
            "Replayed: the message is queued again.",
        ),
        "operator.done.reviewed": ("已标记为已审。", "Marked reviewed."),
        "operator.chain.linked": ("已链接至记录", "Linked up to record"),
        "operator.chain.waiting": ("待链接记录", "Records waiting to be linked"),
        "operator.chain.abandoned": ("回滚占位记录", "Numbers filled as abandoned"),
        "operator.chain.checkpoint": ("最近签名检查点", "Newest signed checkpoint"),
        "operator.chain.none": ("无", "none"),
        "operator.chain.verify": ("立即校验全链", "Verify the whole chain now"),
        "operator.chain.intact": ("校验通过：审计链完整。", "Verified: the chain is intact."),
        "operator.chain.broken": (
            "校验失败：审计链被篡改。",
            "Verification failed: the chain is broken.",
        ),
        "operator.keys.id": ("密钥编号", "Key id"),
        "operator.keys.algorithm": ("算法", "Algorithm"),
        "operator.keys.active": ("当前", "active"),
        "operator.keys.retired": ("待轮换", "to rotate"),
        "operator.keys.blind": ("盲索引", "Blind index"),
        "operator.keys.count": (
            "统计各密钥下的存量（读取全部加密值）",
            "Count stored values per key (reads every sealed value)",
        ),
        "operator.keys.column": ("字段", "Column"),
        "operator.keys.values": ("值数量", "Values"),
    }
)
