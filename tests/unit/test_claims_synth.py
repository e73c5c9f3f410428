"""The synthetic claims month (issue 18): deterministic for a seed, each pattern planted at the
requested rate with its near-misses, records coherent as FHIR R4, and the scoring's arithmetic."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from insurance.claims_audit.codes import PATTERN_CODES
from insurance.claims_audit.synth import records
from insurance.claims_audit.synth.background import CLAIMS_PER_PERSON
from insurance.claims_audit.synth.files import (
    MonthWriter,
    read_resources,
    read_truth,
    write_month,
)
from insurance.claims_audit.synth.generate import PATTERNS, Spec, generate_month
from insurance.claims_audit.synth.records import Month, TruthRow
from insurance.claims_audit.synth.score import FoundIssue, score
from insurance.policy import load_policy

FACILITIES = ("H001", "H002", "H003")


def _month(seed: int = 1, persons: int = 600, rate: float = 0.01) -> Month:
    return generate_month(Spec(date(2026, 3, 1), persons, FACILITIES, seed, rate), load_policy())


def test_the_same_seed_writes_the_same_month_and_another_seed_another(tmp_path: Path) -> None:
    write_month(_month(), tmp_path / "a")
    write_month(_month(), tmp_path / "b")
    write_month(_month(seed=2), tmp_path / "c")
    for name in ("Claim.ndjson", "MedicationDispense.ndjson", "truth.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "Claim.ndjson").read_bytes() != (
        tmp_path / "c" / "Claim.ndjson"
    ).read_bytes()


@pytest.mark.parametrize("rate", [0.01, 0.03])
def test_each_pattern_is_planted_at_the_rate_with_as_many_near_misses(rate: float) -> None:
    month = _month(persons=1500, rate=rate)
    planted = Counter(t.rule for t in month.truth if t.kind == "planted")
    near = Counter(t.rule for t in month.truth if t.kind == "near-miss")
    background = sum(1 for c in month.resources["Claim"] if not _in_truth(month, c["id"]))
    assert set(planted) == set(PATTERNS) == {str(r) for r in PATTERN_CODES}
    for rule in PATTERNS:
        assert planted[rule] == near[rule]
        assert abs(planted[rule] / background - rate) < 0.1 * rate


def _in_truth(month: Month, claim_id: str) -> bool:
    return any(claim_id in t.claims for t in month.truth)


def test_a_month_is_sized_by_its_persons() -> None:
    month = _month(persons=2000, rate=0)
    assert abs(month.claims_count / 2000 - CLAIMS_PER_PERSON) < 0.15
    assert not month.truth


def test_every_reference_names_a_record_of_the_month_or_a_facility(tmp_path: Path) -> None:
    write_month(_month(), tmp_path)
    ids = {(t, r["id"]) for t in ("Patient", "Practitioner", "Encounter", "MedicationRequest",
                                  "Claim") for r in read_resources(tmp_path, t)}  # fmt: skip
    for dispense in read_resources(tmp_path, "MedicationDispense"):
        request = dispense["authorizingPrescription"][0]["reference"].split("/")
        assert tuple(request) in ids
        assert tuple(dispense["context"]["reference"].split("/")) in ids
    for claim in read_resources(tmp_path, "Claim"):
        assert ("Patient", claim["patient"]["reference"].split("/")[1]) in ids
        for item in claim["item"]:
            for e in item.get("encounter", []):
                assert tuple(e["reference"].split("/")) in ids


def test_a_dispense_and_its_prescription_use_the_claims_coding(tmp_path: Path) -> None:
    write_month(_month(), tmp_path)
    requests = {r["id"]: r for r in read_resources(tmp_path, "MedicationRequest")}
    claimed = {i["productOrService"]["coding"][0]["system"]
               for c in read_resources(tmp_path, "Claim") for i in c["item"]}  # fmt: skip
    for dispense in read_resources(tmp_path, "MedicationDispense"):
        request = requests[dispense["authorizingPrescription"][0]["reference"].split("/")[1]]
        assert request["medicationCodeableConcept"] == dispense["medicationCodeableConcept"]
        assert dispense["medicationCodeableConcept"]["coding"][0]["system"] in claimed


def test_truth_reads_back_as_written(tmp_path: Path) -> None:
    month = _month()
    write_month(month, tmp_path)
    assert read_truth(tmp_path / "truth.csv") == month.truth


def _row(case: str, rule: str, kind: str, *claims: str) -> TruthRow:
    return TruthRow(case, rule, kind, "v", claims)


def test_a_finding_matches_a_case_of_its_rule_naming_one_of_its_claims() -> None:
    truth = [
        _row("a", "unbundling", "planted", "c1", "c2"),
        _row("b", "unbundling", "planted", "c3"),
        _row("n", "unbundling", "near-miss", "c9"),
        _row("d", "duplicate-charge", "planted", "c4"),
    ]
    issues = [
        FoundIssue("i1", "unbundling", ("c2",)),  # case a
        FoundIssue("i2", "unbundling", ("c9",)),  # the near-miss: false
        FoundIssue("i3", "unbundling", ("c4",)),  # another rule's case: false
        FoundIssue("i4", "duplicate-charge", ("c4",)),
    ]
    scores = score(truth, issues, ["unbundling", "duplicate-charge"])
    unbundling = scores["unbundling"]
    assert (unbundling.planted, unbundling.found, unbundling.findings) == (2, 1, 3)
    assert unbundling.precision == pytest.approx(1 / 3)
    assert unbundling.recall == 0.5
    assert [m.case for m in unbundling.missed] == ["b"]
    assert [n.case for n in unbundling.near_misses_flagged] == ["n"]
    assert scores["duplicate-charge"].precision == scores["duplicate-charge"].recall == 1.0


def test_a_month_at_one_facility_is_refused() -> None:
    with pytest.raises(ValueError, match="two facilities"):
        generate_month(Spec(date(2026, 3, 1), 10, ("H001",)), load_policy())


def test_a_month_streamed_to_its_files_is_the_month_held_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_month(_month(persons=800), tmp_path / "held")
    batches: list[int] = []
    write = MonthWriter(tmp_path / "streamed")

    def writer(resources: dict[str, list[dict[str, object]]]) -> None:
        batches.append(sum(len(v) for v in resources.values()))
        write(resources)

    monkeypatch.setattr(records, "SINK_BATCH", 500)
    spec = Spec(date(2026, 3, 1), 800, FACILITIES, 1, 0.01)
    streamed = generate_month(spec, load_policy(), sink=writer)
    write.finish(streamed.truth)
    assert not streamed.resources  # nothing held once written
    assert len(batches) > 10 and max(batches) < 600
    for name in ("Patient.ndjson", "Claim.ndjson", "ClaimResponse.ndjson", "truth.csv"):
        held = (tmp_path / "held" / name).read_bytes()
        assert held and held == (tmp_path / "streamed" / name).read_bytes()
