"""The claims audit over a synthetic month written independently of its rules: loaded through
the bulk path, audited day by day through the service `hub insurance audit` calls, and scored
per rule against the planted truth (issue 18)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest

from hub.db import session_scope
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import get_settings
from insurance.claims_audit.codes import PATTERN_CODES
from insurance.claims_audit.service import CLAIMS_AUDIT_ACTOR, audit_day, record_findings
from insurance.claims_audit.synth.files import claim_ids, read_resources, read_truth, write_month
from insurance.claims_audit.synth.generate import Spec, generate_month
from insurance.claims_audit.synth.score import GOAL, RuleScore, score
from insurance.claims_audit.synth.store_io import load_month, recorded_issues
from insurance.policy_source import configured_policy
from tests.integration.hub_cli import run_hub

MONTH = date(2026, 3, 1)
# Floors (precision, recall) of a rule below GOAL (0.95); none now. The two gaps this month
# first showed (a one-day swap during a stay, a readmission settled long after the first
# discharge) are fixed in item_swap.py and loading.py.
MEASURED: dict[str, tuple[float, float]] = {}


@pytest.fixture(scope="module")
def scores(database: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, RuleScore]:
    get_settings.cache_clear()
    folder: Path = tmp_path_factory.mktemp("claims-month")
    spec = Spec(MONTH, 300, ("H001", "H002", "H003", "H011"), seed=18, rate=0.04,
                prefix=f"t{uuid.uuid4().hex[:8]}")  # fmt: skip
    write_month(generate_month(spec, configured_policy()), folder)
    load_month(folder)
    day = spec.first
    while day <= spec.last:
        with session_scope() as session:
            store = FhirStore(session, CLAIMS_AUDIT_ACTOR, get_cipher(),
                              get_settings().fhir_base_url)  # fmt: skip
            record_findings(store, audit_day(store, day))
        day += timedelta(days=1)
    issues = recorded_issues(claim_ids(folder))
    result = score(read_truth(folder / "truth.csv"), issues, [str(r) for r in PATTERN_CODES])
    for s in result.values():  # the figures and the gaps, for the report (-s)
        print(s.rule, s.planted, s.found, s.findings, s.precision, s.recall,
              [(m.case, m.variant, m.claims) for m in s.missed],
              [(f.claims) for f in s.false_findings],
              [(n.case, n.variant) for n in s.near_misses_flagged])  # fmt: skip
    return result


@pytest.mark.parametrize("rule", [str(r) for r in PATTERN_CODES])
def test_each_rule_finds_the_planted_cases_and_spares_the_near_misses(
    scores: dict[str, RuleScore], rule: str
) -> None:
    s = scores[rule]
    assert s.planted >= 20  # 4 % of the month's background claims
    precision, recall = MEASURED.get(rule, (GOAL, GOAL))
    assert (s.precision or 0.0) >= precision, [f.claims for f in s.false_findings]
    assert (s.recall or 0.0) >= recall, [(m.case, m.variant, m.claims) for m in s.missed]


def test_the_commands_write_load_audit_and_score_a_month(database: str, tmp_path: Path) -> None:
    """`hub synth claims --load`, `hub insurance audit` on a day, `hub synth claims-score`."""
    folder = tmp_path / "month"
    made = run_hub("-q", "synth", "claims", "--month", "2026-04", "--persons", "40",
                   "--facilities", "H001,H002", "--out", str(folder), "--seed", "4",
                   "--rate", "0.1", "--load")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "planted cases" in made.stderr and "loaded" in made.stderr
    truth = read_truth(folder / "truth.csv")
    planted = [t for t in truth if t.kind == "planted"]
    assert {t.rule for t in planted} == {str(r) for r in PATTERN_CODES}
    claims = [c for c in read_resources(folder, "Claim") if c["id"] in planted[0].claims]
    day = claims[-1]["created"][:10]
    audited = run_hub("-q", "insurance", "audit", "--date", day, "--format", "csv")
    assert audited.returncode == 0, audited.stderr
    scored = run_hub("-q", "synth", "claims-score", "--truth", str(folder / "truth.csv"),
                     "--format", "csv")  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    rows = {r["rule"]: r for r in csv.DictReader(io.StringIO(scored.stdout))}
    assert set(rows) == {str(r) for r in PATTERN_CODES}
    first = rows[planted[0].rule]  # its case's claim day was audited: found
    assert int(first["found"]) >= 1
    assert int(first["planted"]) == sum(1 for t in planted if t.rule == planted[0].rule)


def test_a_bad_facility_is_refused(tmp_path: Path) -> None:
    made = run_hub("-q", "synth", "claims", "--month", "2026-04", "--persons", "5",
                   "--facilities", "H001,NOPE", "--out", str(tmp_path))  # fmt: skip
    assert made.returncode == 2
    assert "not in the facility registry: NOPE" in made.stderr
