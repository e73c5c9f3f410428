"""The claims audit's monthly report end to end: claims, encounters and findings of 2025-09
written through the store, reviewed by an auditor; ``hub insurance report`` writes the page and
CSVs; ``GET /insurance/claims-audit/report`` serves them to insurance auditors, operators and the
compliance auditor only, each request audited. (No other test writes 2025 data.)"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub.audit.models import AuditRecord
from hub.auth.actor import Actor
from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.db import session_scope
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import get_settings
from insurance.claims_audit.codes import RuleCode, Severity
from insurance.claims_audit.detected_issue import Outcome, Review, finding_id
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.service import CLAIMS_AUDIT_ACTOR, record_findings, review_finding
from insurance.policy import Scheme
from insurance.resources import coverage_resource
from tests.integration.hub_cli import run_hub

MONTH = "2025-09"
DRUG, SERVICE = "XJ01CAA040A001010100001", "001102000000100"
CHARTS = 10
WRITER = Actor.build(
    client_id="report-test", facility="HUB", role=Role.operator,
    scope=DEFAULT_SCOPES[Role.operator],
)  # fmt: skip
AUDITOR = Actor.build(
    client_id="report-auditor", facility="YB420500", role=Role.insurance_auditor,
    scope=DEFAULT_SCOPES[Role.insurance_auditor],
)  # fmt: skip
# the 三级 hospitals' cost per visit (yuan): H005 is far beyond its peers' upper fence
COSTS = {"H001": 100, "H002": 110, "H003": 120, "H004": 130, "H005": 1000}


def _store(session: Any, actor: Actor) -> FhirStore:
    return FhirStore(session, actor, get_cipher(), get_settings().fhir_base_url)


def _create(store: FhirStore, resource: dict[str, Any]) -> str:
    return store.create(resource["resourceType"], resource).resource_id


def _encounter(patient: str, facility: str, start: str, end: str, kind: str = "IMP") -> Any:
    return {
        "resourceType": "Encounter", "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": kind},
        "subject": {"reference": f"Patient/{patient}"},
        "serviceProvider": {"reference": f"Organization/{facility}"},
        "period": {"start": start, "end": end},
    }  # fmt: skip


def _claim(patient: str, coverage: str, facility: str, items: list[tuple[str, int, str]]) -> Any:
    return {
        "resourceType": "Claim", "status": "active", "use": "claim",
        "identifier": [{"system": "urn:test:his", "value": uuid.uuid4().hex}],
        "type": {"coding": [{"code": "institutional"}]},
        "patient": {"reference": f"Patient/{patient}"}, "created": "2025-09-12",
        "provider": {"reference": f"Organization/{facility}"},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True,
                       "coverage": {"reference": f"Coverage/{coverage}"}}],
        "item": [
            {"sequence": n, "productOrService": {"coding": [{"code": code}]},
             "quantity": {"value": 1}, "unitPrice": {"value": yuan, "currency": "CNY"},
             "encounter": [{"reference": f"Encounter/{encounter}"}]}
            for n, (code, yuan, encounter) in enumerate(items, start=1)
        ],
    }  # fmt: skip


def _plant(store: FhirStore) -> dict[str, Any]:
    """One patient a facility: a September stay billed; H001's patient was in before (August)."""
    claims: dict[str, str] = {}
    patients: dict[str, str] = {}
    for facility, cost in COSTS.items():
        patient = _create(store, {"resourceType": "Patient", "gender": "female",
                                  "name": [{"family": "报告", "given": [facility]}]})  # fmt: skip
        coverage = _create(store, coverage_resource(patient, Scheme.UEBMI, "420502", 0,
                                                    uuid.uuid4().hex))  # fmt: skip
        if facility == "H001":  # left on 2025-08-20: the September stay is a readmission
            _create(store, _encounter(patient, facility, "2025-08-10T09:00:00+08:00",
                                      "2025-08-20T09:00:00+08:00"))  # fmt: skip
        stay = _create(store, _encounter(patient, facility, "2025-09-10T09:00:00+08:00",
                                         "2025-09-12T09:00:00+08:00"))  # fmt: skip
        items = [(SERVICE, cost - 40, stay), (DRUG, 40, stay)]
        claims[facility] = _create(store, _claim(patient, coverage, facility, items))
        patients[facility] = patient
    return {"claims": claims, "patients": patients}


def _finding(rule: RuleCode, facility: str, day: date, fen: int, planted: dict[str, Any]) -> Any:
    return Finding(rule, Severity.HIGH, facility, planted["patients"][facility], day, fen,
                   "planted for the report", f"report-{rule}",
                   claims=(planted["claims"][facility],))  # fmt: skip


@pytest.fixture(scope="module")
def planted(database: str, live_hub: Any) -> dict[str, Any]:
    with session_scope() as session:
        found = _plant(_store(session, WRITER))
    findings = [
        _finding(RuleCode.DUPLICATE_CHARGE, "H001", date(2025, 9, 12), 2000, found),
        _finding(RuleCode.PHANTOM_SERVICE, "H005", date(2025, 9, 12), 10_000, found),
        _finding(RuleCode.UNBUNDLING, "H001", date(2025, 7, 3), 5000, found),  # the trend
    ]
    with session_scope() as session:
        assert record_findings(_store(session, CLAIMS_AUDIT_ACTOR), findings).created == 3
    with session_scope() as session:
        store = _store(session, AUDITOR)
        confirmed = Review(Outcome.CONFIRMED, "billed twice", 1500, "report-auditor")
        review_finding(store, finding_id(findings[0].key), confirmed)
        dismissed = Review(Outcome.DISMISSED, "a walk-in", 0, "report-auditor")
        review_finding(store, finding_id(findings[1].key), dismissed)
    return found


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def _check_figures(by_rule: list[dict[str, str]], peers: list[dict[str, str]]) -> None:
    rules = {row["rule"]: row for row in by_rule}
    duplicate, phantom = rules["duplicate-charge"], rules["phantom-service"]
    assert (duplicate["findings"], duplicate["at_risk_yuan"], duplicate["recover_yuan"],
            duplicate["confirmed"]) == ("1", "20.00", "15.00", "1")  # fmt: skip
    assert (phantom["at_risk_yuan"], phantom["dismissed_yuan"], phantom["dismissed"]) == (
        "100.00", "100.00", "1")  # fmt: skip
    assert rules["unbundling"]["findings"] == "0"  # July's: in the trend, not in the month
    cost = {row["facility"]: row for row in peers if row["metric"] == "cost-per-visit"}
    assert cost["H005"]["flag"] == "high" and cost["H005"]["value"] == "1000.00"
    assert {cost[f]["flag"] for f in ("H001", "H002", "H003", "H004")} == {""}
    assert cost["H001"]["median"] == "120.00" and cost["H001"]["peers"] == "5"
    readmission = {row["facility"]: row for row in peers if row["metric"] == "readmission-rate"}
    assert readmission["H001"]["value"] == "100.00" and readmission["H002"]["value"] == "0.00"
    drugs = {row["facility"]: row for row in peers if row["metric"] == "drug-share"}
    assert drugs["H001"]["value"] == "40.00"  # 40 of 100 yuan


def test_the_command_writes_the_page_and_the_csvs(planted: dict[str, Any], tmp_path: Path) -> None:
    run = run_hub("insurance", "report", "--month", MONTH, "--out", str(tmp_path))
    assert run.returncode == 0, run.stderr
    html = (tmp_path / f"report-{MONTH}.html").read_text(encoding="utf-8")
    assert html.count("<svg") == CHARTS and "重复收费 Duplicate charge" in html
    by_rule_text = (tmp_path / f"report-{MONTH}-by-rule.csv").read_text(encoding="utf-8")
    assert by_rule_text.startswith("\ufeffrule,name,findings,")  # a BOM: Excel reads UTF-8
    by_rule = _rows(by_rule_text)
    assert _rows((tmp_path / f"report-{MONTH}.csv").read_text("utf-8"))[0]["table"] == "by-rule"
    peers = _rows((tmp_path / f"report-{MONTH}-peers.csv").read_text(encoding="utf-8"))
    _check_figures(by_rule, peers)
    months = _rows((tmp_path / f"report-{MONTH}-by-month.csv").read_text(encoding="utf-8"))
    assert [(m["month"], m["findings"]) for m in months[-3:]] == [
        ("2025-07", "1"), ("2025-08", "0"), ("2025-09", "2")]  # fmt: skip
    assert "2 findings in 2025-09" in run.stderr
    # read as the hub's read-only report identity: the report and each search audited
    records = _audited("hub-claims-report")
    asked = [r.query_params for r in records if r.interaction == "operation"]
    assert asked.count("month") == 1  # --facility runs (another test) add "month,facility"
    assert {r.resource_type for r in records} >= {"DetectedIssue", "Claim", "Encounter"}


def test_the_command_for_one_facility(planted: dict[str, Any], tmp_path: Path) -> None:
    run = run_hub("insurance", "report", "--month", MONTH, "--out", str(tmp_path),
                  "--facility", "H005")  # fmt: skip
    assert run.returncode == 0, run.stderr
    facilities = _rows((tmp_path / f"report-{MONTH}-H005-by-facility.csv").read_text("utf-8"))
    assert [(f["facility"], f["name"], f["findings"]) for f in facilities] == [
        ("H005", "宜昌市妇幼保健院", "1")]  # fmt: skip
    peers = _rows((tmp_path / f"report-{MONTH}-H005-peers.csv").read_text("utf-8"))
    assert {p["facility"] for p in peers} == {"H005"} and peers[0]["peers"] == "5"


@pytest.mark.parametrize("month", ["2025-13", "2025-9", "sept"])
def test_the_command_refuses_a_bad_month_naming_it(month: str, tmp_path: Path) -> None:
    run = run_hub("insurance", "report", "--month", month, "--out", str(tmp_path))
    assert run.returncode == 2 and repr(month) in run.stderr and "--month" in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_command_refuses_an_unknown_facility(tmp_path: Path) -> None:
    run = run_hub("insurance", "report", "--month", MONTH, "--facility", "NOPE",
                  "--out", str(tmp_path))  # fmt: skip
    assert run.returncode == 2 and "NOPE" in run.stderr


def test_the_command_refuses_a_folder_it_cannot_write(tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    run = run_hub("insurance", "report", "--month", MONTH, "--out", str(taken))
    assert run.returncode == 2 and "--out" in run.stderr and str(taken) in run.stderr


# -- the API -----------------------------------------------------------------------------------


@pytest.fixture
def report_client(
    live_hub: Any, make_token: Callable[..., str]
) -> Iterator[Callable[..., httpx.Client]]:
    clients: list[httpx.Client] = []

    def make(**token: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {make_token(**token)}"}
        client = httpx.Client(base_url=f"{live_hub.base_url}/insurance/claims-audit",
                              headers=headers, timeout=120)  # fmt: skip
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _audited(client_id: str) -> list[AuditRecord]:
    with session_scope() as session:
        rows = session.scalars(select(AuditRecord).where(AuditRecord.client_id == client_id))
        return list(rows)


def test_an_insurance_auditor_gets_the_page_and_the_csvs(
    planted: dict[str, Any], report_client: Callable[..., httpx.Client]
) -> None:
    auditor = report_client(role=Role.insurance_auditor, facility="YB420500",
                            client_id="report-api-auditor")  # fmt: skip
    page = auditor.get("/report", params={"month": MONTH})
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.count("<svg") == CHARTS and "虚假就诊 Phantom service" in page.text
    long = auditor.get("/report", params={"month": MONTH, "format": "csv"})
    assert long.status_code == 200 and long.headers["content-type"].startswith("text/csv")
    assert long.text.splitlines()[0] == "table,row,column,value"
    by_rule = auditor.get("/report", params={"month": MONTH, "format": "csv", "table": "by-rule"})
    peers = auditor.get("/report", params={"month": MONTH, "format": "csv", "table": "peers"})
    assert 'filename="report-2025-09-by-rule.csv"' in by_rule.headers["content-disposition"]
    _check_figures(_rows(by_rule.text), _rows(peers.text))
    records = _audited("report-api-auditor")
    report_records = [r for r in records if r.interaction == "operation"]
    assert len(report_records) == 4 and {r.query_params for r in report_records} == {"month"}
    assert {r.resource_type for r in records} >= {"DetectedIssue", "Claim", "Encounter"}
    assert all(r.outcome == "0" for r in records)


@pytest.mark.parametrize("role", [Role.operator, Role.auditor])
def test_operators_and_the_compliance_auditor_read_it(
    planted: dict[str, Any], report_client: Callable[..., httpx.Client], role: Role
) -> None:
    reader = report_client(role=role, facility="HUB")
    answer = reader.get("/report", params={"month": MONTH, "format": "csv", "table": "by-rule"})
    assert answer.status_code == 200, answer.text
    assert {r["rule"]: r["findings"] for r in _rows(answer.text)}["phantom-service"] == "1"


@pytest.mark.parametrize(
    "token",
    [
        {"role": Role.facility_system, "facility": "H001", "purpose": "HPAYMT"},
        {"role": Role.facility_system, "facility": "H005"},
        {"role": Role.practitioner, "facility": "H001"},
        {"role": Role.patient, "facility": "H001", "patient": "report-someone"},
    ],
    ids=["facility-cashier", "audited-facility", "practitioner", "patient"],
)
def test_everyone_else_is_refused_and_audited(
    report_client: Callable[..., httpx.Client], token: dict[str, Any]
) -> None:
    client_id = f"report-refused-{uuid.uuid4().hex[:8]}"
    client = report_client(client_id=client_id, **token)
    refused = client.get("/report", params={"month": MONTH, "format": "csv"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["resourceType"] == "OperationOutcome"
    [record] = _audited(client_id)
    assert record.outcome == "4" and record.outcome_text is not None
    assert record.outcome_text.startswith("403")


@pytest.mark.parametrize(
    "params",
    [
        {"month": "2025-13"}, {"month": "2025-9"}, {"month": "1800-01"}, {},
        {"month": MONTH, "format": "pdf"}, {"month": MONTH, "format": "csv", "table": "nope"},
        {"month": MONTH, "table": "by-rule"}, {"month": MONTH, "facility": "H001\nX"},
    ],
)  # fmt: skip
def test_bad_parameters_get_400_with_an_operation_outcome(
    report_client: Callable[..., httpx.Client], params: dict[str, str]
) -> None:
    client_id = f"report-bad-{uuid.uuid4().hex[:8]}"
    auditor = report_client(role=Role.insurance_auditor, facility="YB420500", client_id=client_id)
    refused = auditor.get("/report", params=params)
    assert refused.status_code == 400, refused.text
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    [record] = _audited(client_id)
    assert record.outcome == "4" and str(record.outcome_text).startswith("400")
    if params.get("month") in ("2025-13", "2025-9"):
        assert repr(params["month"]) in outcome["issue"][0]["diagnostics"]
