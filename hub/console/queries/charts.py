"""The figures behind the console's charts, each from the hub's own data through its domain's
service as the staff member's actor: referral volumes and waits (the Tasks' histories), booking
fill rate (the booking ledger), findings by rule (the store's counts of DetectedIssues) and
settlement totals (the settlement ledger, integer fen; drawn in yuan). The desk's page shows
its fill rate; the operator's dashboard the rest; the auditor's pages may reuse any of them.

The referral figures cost one count per day and figure (the store's search, about a second
each with 100,000 referrals stored), so they are kept for ``FIGURES_KEPT`` per role and
facility and the chart says how old they are; each view is audited all the same."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from cachetools import TTLCache

from hub.audit.service import AuditEntry, record_access
from hub.auth.roles import Role
from hub.console.charts import Chart, Series, bar_chart
from hub.console.i18n import Translate, register_messages
from hub.errors import Forbidden
from hub.fhir.search.dates import REGION_TZ
from hub.fhir.store import FhirStore
from insurance.claims_audit.codes import RULE_DISPLAY
from insurance.claims_audit.rule_counts import findings_by_rule
from insurance.settlement.totals import daily_totals
from referral.figures import referral_days
from referral.scheduling import desk

ZONE = REGION_TZ  # the region's local day
SETTLEMENT_READERS = frozenset({Role.operator, Role.insurance_auditor})
FIGURES_KEPT = timedelta(minutes=5)
Figures = TypeVar("Figures")
# Bounded and expiring (cachetools): one entry per role, facility and window asked for.
_kept: TTLCache[tuple[object, ...], tuple[datetime, object]] = TTLCache(
    maxsize=1024, ttl=FIGURES_KEPT.total_seconds()
)
_kept_lock = threading.Lock()  # TTLCache is not thread-safe


def recent(key: tuple[object, ...], compute: Callable[[], Figures]) -> tuple[Figures, datetime]:
    """``compute()``'s figures as computed within ``FIGURES_KEPT`` for ``key`` (and when)."""
    now = datetime.now(UTC)
    with _kept_lock:
        found = _kept.get(key)
    if found is not None and now - found[0] < FIGURES_KEPT:  # the setting as it is now
        return found[1], found[0]  # type: ignore[return-value]
    figures = compute()
    with _kept_lock:
        _kept[key] = (now, figures)
    return figures, now


def _labels(first: date, days: int) -> list[str]:
    return [(first + timedelta(days=n)).strftime("%m-%d") for n in range(days)]


def fill_rate_chart(store: FhirStore, t: Translate, facility: str, first: date, days: int) -> Chart:
    figures = desk.fill_rate(store, facility, first, days)
    return bar_chart(
        "fill-rate", t("chart.fill-rate"), _labels(first, days),
        [Series(t("chart.capacity"), [d.capacity for d in figures]),
         Series(t("chart.booked"), [d.booked for d in figures])],
        bar_axis=t("chart.places"), empty=t("chart.no-data"),
        line=Series(t("chart.rate"), [round(100 * d.rate, 1) if d.capacity else None
                                      for d in figures]),
        line_axis="%",
    )  # fmt: skip


def referral_chart(store: FhirStore, t: Translate, first: date, days: int) -> Chart:
    actor = store.actor
    figures, at = recent(
        ("referrals", actor.role, actor.facility, first, days),
        lambda: referral_days(store, first, days, ZONE),
    )
    record_access(store.session, AuditEntry(actor, "search-type", "Task"))
    return bar_chart(
        "referrals", t("chart.referrals", at=at.astimezone(ZONE).strftime("%H:%M")),
        _labels(first, days),
        [Series(t("chart.made"), [d.made for d in figures]),
         Series(t("chart.accepted"), [d.accepted for d in figures])],
        bar_axis=t("chart.referral-count"), empty=t("chart.no-data"),
        line=Series(t("chart.wait"), [d.median_hours_to_accept for d in figures]),
        line_axis=t("chart.hours"),
    )  # fmt: skip


def findings_chart(store: FhirStore, t: Translate, since: date) -> Chart:
    counts = findings_by_rule(store, since)
    return bar_chart(
        "findings", t("chart.findings"), [RULE_DISPLAY[rule] for rule in counts],
        [Series(t("chart.finding-count"), list(counts.values()))],
        bar_axis=t("chart.finding-count"), horizontal=True, empty=t("chart.no-data"),
    )  # fmt: skip


def settlement_chart(store: FhirStore, t: Translate, first: date, days: int) -> Chart:
    """The region's settlement ledger per day: submitted and fund-paid, in yuan."""
    if store.actor.role not in SETTLEMENT_READERS:
        raise Forbidden("the region's settlement totals are for operators and the fund")
    figures = daily_totals(store.session, first_day=first, days=days, zone=ZONE)
    record_access(store.session, AuditEntry(store.actor, "search-type", "ClaimResponse"))
    return bar_chart(
        "settlements", t("chart.settlements"), _labels(first, days),
        [Series(t("chart.submitted"), [d.submitted / 100 for d in figures]),
         Series(t("chart.fund"), [d.fund / 100 for d in figures])],
        bar_axis=t("chart.yuan"), empty=t("chart.no-data"),
    )  # fmt: skip


register_messages(
    {
        "chart.no-data": ("无数据", "no data"),
        "chart.fill-rate": ("号源使用率", "Booking fill rate"),
        "chart.capacity": ("号源", "Places"),
        "chart.booked": ("已预约", "Booked"),
        "chart.places": ("号源数", "Places"),
        "chart.rate": ("使用率", "Fill rate"),
        "chart.referrals": (
            "转诊量与接诊用时（{at} 统计）",
            "Referrals and time to acceptance (as of {at})",
        ),
        "chart.made": ("发起", "Made"),
        "chart.accepted": ("已接收", "Accepted"),
        "chart.referral-count": ("转诊数", "Referrals"),
        "chart.wait": ("接收用时中位数", "Median hours to acceptance"),
        "chart.hours": ("小时", "Hours"),
        "chart.findings": ("按规则统计的稽核发现", "Findings by rule"),
        "chart.finding-count": ("发现数", "Findings"),
        "chart.settlements": ("结算金额", "Settlement totals"),
        "chart.submitted": ("申报金额", "Submitted"),
        "chart.fund": ("统筹支付", "Fund paid"),
        "chart.yuan": ("元", "Yuan"),
    }
)
