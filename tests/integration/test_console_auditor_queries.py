"""The fund auditor's console read models and actions below the web layer
(hub.console.queries.auditor, auditor_evidence): findings by rule and facility through the
store as the auditor, a finding's evidence side by side, the review through the claims audit's
service, the reconciliation of a day; and what another role or a forged id gets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.audit.models import AuditRecord
from hub.auth.actor import Actor
from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.console.queries import auditor, auditor_evidence
from hub.db import session_scope
from hub.errors import Conflict, FhirError, Forbidden, NotFound
from insurance.claims_audit.report_figures import Month, ReviewState
from insurance.national.envelope import REGION_TZ
from tests.integration import test_claims_audit
from tests.integration.console_areas import as_actor

AUDITOR = Actor.build(client_id="console:fund-1", facility="YB420500",
                      role=Role.insurance_auditor, scope=DEFAULT_SCOPES[Role.insurance_auditor],
                      purpose_of_use="HPAYMT")  # fmt: skip
planted = test_claims_audit.planted  # the claims audit's planted day at H001, a fixture
DOCTOR = Actor.build(client_id="console:doc-1", facility="H001", role=Role.practitioner,
                     scope=DEFAULT_SCOPES[Role.practitioner], purpose_of_use="TREAT")  # fmt: skip


def _month() -> Month:
    return Month.of(datetime.now(UTC).date())


def _audit_count() -> int:
    with session_scope() as session:
        return int(session.execute(select(func.count()).select_from(AuditRecord)).scalar_one())


def _finding_of(planted: dict[str, Any], rule: str) -> str:
    found = [f for f in planted["findings"] if f.rule == rule]
    assert found, f"no {rule} finding planted"
    return f"ca-{found[0].key}"


def test_summary_counts_and_amounts_by_rule_and_facility(planted: dict[str, Any]) -> None:
    chosen = auditor.FindingFilter.parse(str(_month()), facility="H001")
    with as_actor(AUDITOR) as store:
        summary = auditor.findings_summary(store, chosen)
    rules = {g.key: g for g in summary.by_rule}
    assert rules["duplicate-charge"].count >= 1 and rules["phantom-service"].count >= 1
    assert {g.key for g in summary.by_facility} == {"H001"}
    assert summary.total == sum(g.count for g in summary.by_rule)
    assert summary.at_risk_fen == sum(g.at_risk_fen for g in summary.by_facility) > 0


def test_a_rule_filter_narrows_the_search(planted: dict[str, Any]) -> None:
    chosen = auditor.FindingFilter.parse(str(_month()), rule="duplicate-charge")
    with as_actor(AUDITOR) as store:
        page = auditor.findings_page(store, chosen)
    assert page.rows and {r.facts.rule for r in page.rows} == {"duplicate-charge"}
    assert page.total >= len(page.rows)


@pytest.mark.parametrize(
    ("field", "values"),
    [("month", {"month": "2026-13"}), ("rule", {"rule": "nope"}),
     ("facility", {"facility": "H001' or 1=1"}), ("state", {"state": "closed"})],
)  # fmt: skip
def test_a_bad_filter_names_its_field(field: str, values: dict[str, str]) -> None:
    asked = {"month": "2026-03"} | values
    with pytest.raises(auditor.BadFilter, match=field):
        auditor.FindingFilter.parse(**asked)


def test_the_evidence_shows_claim_encounter_side_by_side(planted: dict[str, Any]) -> None:
    issue = _finding_of(planted, "duplicate-charge")
    with as_actor(AUDITOR) as store:
        evidence = auditor_evidence.finding_evidence(store, issue)
    claims = evidence.records["Claim"]
    assert claims and all(c.shown for c in claims)
    assert any(line[0].startswith("002701000000100") for c in claims for line in c.lines)
    assert evidence.records["Encounter"][0].reference == f"Encounter/{planted['visit']}"
    assert evidence.facts is not None and evidence.facts.state is ReviewState.OPEN


def test_confirm_with_an_amount_records_the_review_once(planted: dict[str, Any]) -> None:
    issue = _finding_of(planted, "duplicate-charge")
    with as_actor(AUDITOR) as store:
        changed = auditor.review(store, issue, "confirmed", "billed twice", "20.00")
    assert changed["status"] == "final"
    with as_actor(AUDITOR) as store:
        evidence = auditor_evidence.finding_evidence(store, issue)
    assert evidence.review["outcome"] == "confirmed" and evidence.review["recover_fen"] == "2000"
    assert evidence.review["reviewer"] == "console:fund-1"
    with pytest.raises(Conflict), as_actor(AUDITOR) as store:
        auditor.review(store, issue, "dismissed", "second thoughts", "")


def test_a_bad_review_changes_nothing(planted: dict[str, Any]) -> None:
    issue = _finding_of(planted, "phantom-service")
    with pytest.raises(auditor.BadFilter, match="amount"), as_actor(AUDITOR) as store:
        auditor.review(store, issue, "confirmed", "no visit", "12.345")
    with pytest.raises(FhirError) as refused, as_actor(AUDITOR) as store:
        auditor.review(store, issue, "dismissed", "fine", "5.00")
    assert refused.value.status == 422
    with as_actor(AUDITOR) as store:
        assert store.read("DetectedIssue", issue).as_dict()["status"] == "preliminary"


def test_another_role_and_a_forged_id_are_refused_and_audited(planted: dict[str, Any]) -> None:
    issue = _finding_of(planted, "phantom-service")
    before = _audit_count()
    with pytest.raises(Forbidden), as_actor(DOCTOR) as store:
        auditor.review(store, issue, "dismissed", "my own facility", "")
    with pytest.raises(Forbidden), as_actor(DOCTOR) as store:
        auditor.findings_summary(store, auditor.FindingFilter.parse(str(_month())))
    with pytest.raises(NotFound), as_actor(AUDITOR) as store:
        auditor_evidence.finding_evidence(store, "ca-forged0000")
    with as_actor(AUDITOR) as store:
        assert store.read("DetectedIssue", issue).as_dict()["status"] == "preliminary"
    assert _audit_count() > before  # the reads are audited (refusals by the page's handler)


def test_reconciliation_of_a_day_without_an_upload(planted: dict[str, Any]) -> None:
    with as_actor(AUDITOR) as store:
        assert auditor_evidence.day_result(store, "H001", date(2026, 3, 2)) is None
    with pytest.raises(NotFound), as_actor(AUDITOR) as store:
        auditor_evidence.rerun(store, "H001", date(2026, 3, 2))


def test_reconciliation_rerun_answers_the_days_totals(
    planted: dict[str, Any], client_for: Callable[..., Any]
) -> None:
    today = datetime.now(REGION_TZ).date()  # the settlements were made today, local time
    his = client_for(role=Role.facility_system, facility="H001", purpose="HPAYMT")
    header = "setl_id,medfee_sumamt,fund_pay_sumamt,acct_pay,refd_setl_flag\n"
    uploaded = his.post("/PaymentReconciliation/$upload", params={"facility": "H001",
                        "date": today.isoformat()}, content=header + "nope-1,1.00,1.00,0.00,0\n",
                        headers={"Content-Type": "text/csv"})  # fmt: skip
    assert uploaded.status_code == 200, uploaded.text
    with as_actor(AUDITOR) as store:
        result = auditor_evidence.rerun(store, "H001", today)
    assert result.outcome == "partial"
    kinds = {d.setl_id: d.difference for d in result.differences}
    assert kinds["nope-1"] == "missing-at-hub"
    assert kinds[planted["honest"]] == "missing-at-facility"
    assert result.totals["facility"]["fixmedins_setl_cnt"] == "1"
    assert int(result.totals["hub"]["fixmedins_setl_cnt"]) >= 3
    with as_actor(AUDITOR) as store:
        stored = auditor_evidence.day_result(store, "H001", today)
    assert stored is not None and stored.differences == result.differences


def test_monthly_charts_are_svg_images(planted: dict[str, Any]) -> None:
    with as_actor(AUDITOR) as store:
        charts = auditor.monthly_charts(store, Month(2026, 3), "H001").images
    assert len(charts) == 10
    assert all(c.data_uri.startswith("data:image/svg+xml;base64,") for c in charts)
