"""The console's figures counted and summed by the database (``FhirStore.count_each`` and
``tally``) against the same figures from the searches they replace, on the same data in the
same transaction: the referral counts per day, the auditor's findings summary and the monthly
report's findings figures. And what the caller may not see is not counted: a patient's token
counts its own findings only, as its search does; a role without the scope is refused."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import func, select

from hub.audit.models import AuditRecord
from hub.auth.actor import SYSTEM_ACTOR, Actor
from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.console.queries import auditor
from hub.db import session_scope
from hub.errors import Forbidden
from hub.fhir.search.dates import REGION_TZ
from hub.fhir.store import FhirStore
from hub.migrate import alembic_config
from insurance.claims_audit.codes import PATTERN_CODES, RULE_SYSTEM, Severity
from insurance.claims_audit.detected_issue import Outcome, Review, detected_issue, reviewed
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.monthly_report import build_report
from insurance.claims_audit.report_figures import (
    FindingFacts,
    Month,
    by_rule,
    finding_facts,
    group_findings,
    trailing_months,
)
from insurance.claims_audit.report_service import drug_codes, monthly_report
from insurance.claims_audit.rule_counts import findings_by_rule
from insurance.claims_audit.service import CLAIMS_AUDIT_ACTOR, record_findings, review_finding
from referral.figures import TAKEN, referral_days
from referral.rules import PROCESS_REQUEST, TASK_CODE_SYSTEM
from tests.integration.console_areas import as_actor

AUDITOR = Actor.build(client_id="console:fund-tally", facility="YB420500",
                      role=Role.insurance_auditor, scope=DEFAULT_SCOPES[Role.insurance_auditor],
                      purpose_of_use="HPAYMT")  # fmt: skip
OPERATOR = Actor.build(client_id="console:tally", facility="HUB", role=Role.operator,
                       scope=DEFAULT_SCOPES[Role.operator])  # fmt: skip
DOCTOR = Actor.build(client_id="console:doc-tally", facility="H001", role=Role.practitioner,
                     scope=DEFAULT_SCOPES[Role.practitioner], purpose_of_use="TREAT")  # fmt: skip
HOSPITALS = ("H001", "H002", "H003")


def _today() -> date:
    return datetime.now(UTC).astimezone(REGION_TZ).date()


def _patient() -> str:
    with as_actor(SYSTEM_ACTOR) as store:
        body = {"resourceType": "Patient", "gender": "male", "birthDate": "1970-01-01",
                "name": [{"family": "赵", "given": ["统计"]}]}  # fmt: skip
        return store.create("Patient", body).resource_id


@pytest.fixture(scope="module")
def findings(database: str) -> dict[str, Any]:
    """Two patients' findings of several rules, facilities, service months and amounts
    (some in earlier months of the trend); one confirmed with an amount to recover, one
    dismissed."""
    people = [_patient(), _patient()]
    today = _today()
    back = [0, 0, 1, 40, 70, 200]  # days before today of each finding's service day
    planted = [
        Finding(rule=PATTERN_CODES[n % len(PATTERN_CODES)], severity=Severity.MODERATE,
                facility=HOSPITALS[n % 3], person=people[n % 2],
                day=today - timedelta(days=back[n % 6]), amount_fen=1_001 * (n + 1) + n % 7,
                detail=f"tally {n}", basis=uuid.uuid4().hex)
        for n in range(18)
    ]  # fmt: skip
    with as_actor(CLAIMS_AUDIT_ACTOR) as store:
        record_findings(store, planted)
    ids = [f"ca-{f.key}" for f in planted]
    with as_actor(AUDITOR) as store:
        review_finding(store, ids[0], Review(Outcome.CONFIRMED, "billed twice", 1_234, "a"))
        review_finding(store, ids[1], Review(Outcome.DISMISSED, "fine", 0, "a"))
    return {"people": people, "ids": ids}


def _loaded(store: FhirStore, query: list[tuple[str, str]]) -> list[FindingFacts]:
    """The findings of ``query`` loaded one by one: the path the tallies replace."""
    facts: list[FindingFacts] = []
    offset = 0
    while True:
        page = [*query, ("_count", "500"), ("_offset", str(offset))]
        result = store.search("DetectedIssue", page)
        facts += [f for m in result.matches if (f := finding_facts(m.as_dict())) is not None]
        if not result.more:
            return facts
        offset += 500


@pytest.mark.parametrize(
    "asked",
    [{}, {"facility": "H002"}, {"rule": str(PATTERN_CODES[1])}, {"state": "confirmed"}],
)
def test_the_summary_is_the_loaded_findings_figures(
    findings: dict[str, Any], asked: dict[str, str]
) -> None:
    chosen = auditor.FindingFilter.parse(str(Month.of(_today())), **asked)
    with as_actor(AUDITOR) as store:
        summary = auditor.findings_summary(store, chosen)
        loaded = _loaded(store, chosen.query())
    assert summary.total == len(loaded) > 0
    assert summary.at_risk_fen == sum(f.at_risk_fen for f in loaded)
    assert summary.by_rule == by_rule(loaded)
    assert [(g.key, g.count, g.at_risk_fen, g.recover_fen, g.dismissed_fen, g.open, g.confirmed)
            for g in summary.by_facility] == [
        (g.key, g.count, g.at_risk_fen, g.recover_fen, g.dismissed_fen, g.open, g.confirmed)
        for g in group_findings(loaded, lambda f: f.facility, str)
    ]  # fmt: skip


@pytest.mark.parametrize("facility", [None, "H001"])
def test_the_monthly_report_is_the_loaded_findings_report(
    findings: dict[str, Any], facility: str | None
) -> None:
    month = Month.of(_today())
    first = trailing_months(month)[0].first_day
    query = [("identified", f"ge{first.isoformat()}")]
    query += [("facility", f"Organization/{facility}")] if facility else []
    with as_actor(AUDITOR) as store:
        report = monthly_report(store, month, facility)
        loaded = _loaded(store, query)
    old = build_report(month, loaded, [], [], drug_codes=drug_codes(),
                       facilities=report.facilities, generated=report.generated,
                       facility=facility)  # fmt: skip
    assert report.findings > 0 and any(m.count for m in report.trend[:-1])
    assert (report.by_rule, report.by_facility, report.by_district, report.trend) == (
        old.by_rule, old.by_facility, old.by_district, old.trend,
    )  # fmt: skip


def test_a_patient_counts_only_its_own_findings(findings: dict[str, Any]) -> None:
    mine = findings["people"][0]
    patient = Actor.build(client_id="tally-patient", facility="HUB", role=Role.patient,
                          scope="patient/DetectedIssue.rs", patient=mine)  # fmt: skip
    code = ("code", f"{RULE_SYSTEM}|{PATTERN_CODES[0]}")
    with as_actor(patient) as store:
        groups = store.tally("DetectedIssue", [], ("code",), ("amount-at-risk",))
        each = store.count_each("DetectedIssue", [], {"all": [], "rule": [code]})
        searched = store.search("DetectedIssue", [("_summary", "count")]).total
        rule = store.search("DetectedIssue", [code, ("_summary", "count")]).total
        own = _loaded(store, [])
    assert sum(g.count for g in groups) == each["all"] == searched == len(own) == 9
    assert each["rule"] == rule
    assert sum(g.hundredths[0] for g in groups) == sum(f.at_risk_fen for f in own)
    with as_actor(AUDITOR) as store:
        assert store.count_each("DetectedIssue", [], {"all": []})["all"] > 9


def test_a_role_without_the_scope_is_refused(findings: dict[str, Any]) -> None:
    with pytest.raises(Forbidden), as_actor(DOCTOR) as store:
        store.tally("DetectedIssue", [], ("code",))
    with pytest.raises(Forbidden), as_actor(DOCTOR) as store:
        store.count_each("DetectedIssue", [], {"all": []})


def test_referral_counts_are_each_days_search_count(findings: dict[str, Any]) -> None:
    first = _today() - timedelta(days=6)
    with as_actor(OPERATOR) as store:
        days = referral_days(store, first, 7, REGION_TZ)
        searched = [(_count(store, d.day), _count(store, d.day, [("status", TAKEN)])) for d in days]
    assert [(d.made, d.accepted) for d in days] == searched


def _count(store: FhirStore, day: date, more: list[tuple[str, str]] | None = None) -> int:
    query = [("code", f"{TASK_CODE_SYSTEM}|{PROCESS_REQUEST}"), ("authored-on", day.isoformat()),
             ("_summary", "count"), *(more or [])]  # fmt: skip
    return int(store.search("Task", query).total or 0)


def test_migration_0021_indexes_the_stored_findings(database: str, tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'upgrade.db'}")
    finding = Finding(rule=PATTERN_CODES[0], severity=Severity.MODERATE, facility="H001",
                      person="p1", day=date(2026, 3, 2), amount_fen=12_345, detail="d",
                      basis="b")  # fmt: skip
    body = detected_issue(finding, datetime(2026, 3, 5, tzinfo=UTC)) | {"id": "ca-1"}
    confirmed = reviewed(body, Review(Outcome.CONFIRMED, "twice", 2_000, "a"), datetime.now(UTC))
    try:
        _migrate(engine, "0020")
        columns = ("resource_type", "resource_id", "version_id", "last_updated", "deleted",
                   "content")  # fmt: skip
        resources = sa.table("fhir_resource", *(sa.column(c) for c in columns))
        with engine.begin() as conn:
            conn.execute(resources.insert(), [dict(zip(columns, (
                "DetectedIssue", "ca-1", 1, datetime.now(UTC), False,
                orjson.dumps(confirmed).decode()), strict=True))])  # fmt: skip
        _migrate(engine, "head")
        with engine.connect() as conn:
            dates = conn.execute(sa.text("SELECT param, low FROM search_date")).all()
            amounts = conn.execute(sa.text("SELECT param, value FROM search_quantity")).all()
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("fhir_resource")}
    finally:
        engine.dispose()
    assert [(p, str(low)[:16]) for p, low in dates] == [("service-day", "2026-03-01 16:00")]
    assert sorted(amounts) == [("amount-at-risk", 123.45), ("recover-amount", 20.0)]
    assert "ix_fhir_resource_live" in indexes


def _migrate(engine: sa.Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def test_findings_by_rule_are_each_rules_search_count(findings: dict[str, Any]) -> None:
    since = _today() - timedelta(days=1)
    with as_actor(OPERATOR) as store:
        counts = findings_by_rule(store, since)
        searched = {
            rule: store.search("DetectedIssue", [("code", f"{RULE_SYSTEM}|{rule.value}"),
                               ("identified", f"ge{since}"), ("_summary", "count")]).total
            for rule in counts
        }  # fmt: skip
    assert counts == searched and sum(counts.values()) >= 18


def _report_reads(client_id: str) -> int:
    with session_scope() as session:
        return int(session.execute(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.client_id == client_id, AuditRecord.interaction == "operation",
            AuditRecord.resource_type == "DetectedIssue")).scalar_one())  # fmt: skip


def test_kept_monthly_figures_are_still_checked_and_audited_on_each_view(
    findings: dict[str, Any],
) -> None:
    month = Month.of(_today())
    before = _report_reads(AUDITOR.client_id)
    with as_actor(AUDITOR) as store:
        first = auditor.monthly_charts(store, month, "H003")
    with as_actor(AUDITOR) as store:
        again = auditor.monthly_charts(store, month, "H003")
    assert again.counted == first.counted and again.images == first.images  # kept
    assert _report_reads(AUDITOR.client_id) == before + 2
    with pytest.raises(Forbidden), as_actor(DOCTOR) as store:
        auditor.monthly_charts(store, month, "H003")
    other = replace(AUDITOR, client_id="console:fund-other")
    with as_actor(other) as store:
        assert auditor.monthly_charts(store, month, "H003").counted > first.counted
