"""The manual-review sample: a keyed, per-claim draw below the facility's share."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from insurance.claims_audit.codes import RuleCode, Severity
from insurance.claims_audit.params import ManualReviewSampleParams
from insurance.claims_audit.sampling import drawn, sample_findings, sample_key
from insurance.claims_audit.view import Claim

KEY = sample_key(b"a hub secret of the test")
DAY = date(2026, 3, 1)
PARAMS = ManualReviewSampleParams.model_validate(
    {"share": "0.02", "facility_shares": [{"facility": "H003", "share": "0.25"}]}
)


def _claims(facility: str, n: int) -> list[Claim]:
    return [Claim(f"{facility}-c{i}", f"p{i}", facility, DAY, ()) for i in range(n)]


@pytest.mark.parametrize(("facility", "share"), [("H001", 0.02), ("H003", 0.25)])
def test_the_share_is_respected_per_facility(facility: str, share: float) -> None:
    n = 20_000
    picked = sample_findings(_claims(facility, n), set(), PARAMS, KEY)
    # binomial: within four standard deviations of n * share
    assert abs(len(picked) - n * share) < 4 * (n * share * (1 - share)) ** 0.5


def test_the_draw_is_deterministic_and_keyed() -> None:
    claims = _claims("H003", 400)
    first = sample_findings(claims, set(), PARAMS, KEY)
    again = sample_findings(list(reversed(claims)), set(), PARAMS, KEY)
    assert {f.key for f in first} == {f.key for f in again} and first
    # one claim at a time (the incremental audit) draws exactly the same claims
    one_by_one = [f for c in claims for f in sample_findings([c], set(), PARAMS, KEY)]
    assert {f.key for f in one_by_one} == {f.key for f in first}
    other_key = sample_findings(claims, set(), PARAMS, sample_key(b"another secret"))
    assert {f.claims for f in other_key} != {f.claims for f in first}
    # another day, another draw
    assert any(drawn(KEY, c.id, DAY, Decimal("0.25")) != drawn(KEY, c.id, date(2026, 3, 2),
               Decimal("0.25")) for c in claims)  # fmt: skip


def test_flagged_claims_and_a_zero_share_draw_nothing() -> None:
    claims = _claims("H003", 200)
    assert sample_findings(claims, {c.id for c in claims}, PARAMS, KEY) == []
    assert sample_findings(claims, set(), ManualReviewSampleParams(), KEY) == []
    everything = ManualReviewSampleParams(share=Decimal(1))
    assert len(sample_findings(claims, set(), everything, KEY)) == 200


def test_a_sample_finding_is_low_and_names_its_claim() -> None:
    claim = _claims("H003", 1)[0]
    (finding,) = sample_findings([claim], set(), ManualReviewSampleParams(share=Decimal(1)), KEY)
    assert finding.rule is RuleCode.MANUAL_REVIEW_SAMPLE and finding.severity is Severity.LOW
    assert finding.claims == (claim.id,) and finding.amount_fen == 0
    assert finding.facility == "H003" and finding.day == DAY


@pytest.mark.parametrize(
    "bad",
    [
        {"share": "1.5"},
        {"share": "-0.1"},
        {"share": "0.00001"},
        {"facility_shares": [{"facility": "H1", "share": "0.1"}, {"facility": "H1", "share": "0"}]},
    ],
)
def test_bad_parameters_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ManualReviewSampleParams.model_validate(bad)
