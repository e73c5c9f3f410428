"""Pure parts of the patient index interfaces: $match Parameters, PIXm and person queries."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from hub.errors import InvalidRequest, InvalidResource
from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.mpi.lookup.queries import MatchGrade, grade, normalise_value
from hub.mpi.lookup.views import (
    DEFAULT_MATCH_COUNT,
    parse_match_parameters,
    parse_person_query,
    parse_pix_query,
)
from hub.mpi.matching.identifiers import make_resident_id
from hub.mpi.training.registry import packaged_model

PATIENT = {"resourceType": "Patient", "name": [{"family": "张", "given": ["伟"]}]}


def _params(*extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": PATIENT}, *extra],
    }


def test_match_parameters_defaults_and_limits() -> None:
    parsed = parse_match_parameters(_params(), max_count=50)
    assert (parsed.patient, parsed.only_certain, parsed.count) == (
        PATIENT,
        False,
        DEFAULT_MATCH_COUNT,
    )
    parsed = parse_match_parameters(
        _params(
            {"name": "onlyCertainMatches", "valueBoolean": True},
            {"name": "count", "valueInteger": 500},
        ),
        max_count=50,
    )
    assert (parsed.only_certain, parsed.count) == (True, 50)


@pytest.mark.parametrize(
    "body",
    [
        PATIENT,
        [],
        {"resourceType": "Parameters"},
        _params({"name": "resource", "resource": PATIENT}),
        _params({"name": "count", "valueInteger": -1}),
        _params({"name": "onlyCertainMatches", "valueInteger": 1}),
        _params({"name": "threshold", "valueDecimal": 0.5}),
    ],
)
def test_match_parameters_refused(body: Any) -> None:
    with pytest.raises((InvalidRequest, InvalidResource)):
        parse_match_parameters(body, max_count=50)


def test_pix_query() -> None:
    system, value, targets = parse_pix_query(
        [
            ("sourceIdentifier", "urn:a|123"),
            ("targetSystem", "urn:b,urn:c"),
            ("targetSystem", "urn:b"),
        ]
    )
    assert (system, value, targets) == ("urn:a", "123", ["urn:b", "urn:c"])
    for bad in ([], [("sourceIdentifier", "123")], [("sourceIdentifier", "urn:a|1"), ("x", "1")]):
        with pytest.raises(InvalidRequest):
            parse_pix_query(bad)


def test_person_query() -> None:
    features, identifier, count = parse_person_query(
        [("name", "张伟"), ("birthdate", "1980-03-02"), ("_count", "5")], 50, 100
    )
    assert features is not None and features.birth_date is not None
    assert (identifier, count) == (None, 5)
    features, identifier, _ = parse_person_query([("identifier", "urn:a|1")], 50, 100)
    assert features is None and identifier == ("urn:a", "1")
    for bad in (
        [],
        [("gender", "male")],
        [("birthdate", "03/02/1980")],
        [("name", "a"), ("name", "b")],
    ):
        with pytest.raises(InvalidRequest):
            parse_person_query(bad, 50, 100)


def test_grades_follow_the_model_thresholds() -> None:
    model = packaged_model()
    assert grade(model, model.upper_threshold) is MatchGrade.CERTAIN
    assert grade(model, model.lower_threshold) is MatchGrade.PROBABLE
    assert grade(model, 0.1) is MatchGrade.POSSIBLE
    assert grade(model, 0.05) is MatchGrade.CERTAINLY_NOT


def test_resident_ids_are_looked_up_normalised() -> None:
    rid = make_resident_id("420502", date(1980, 3, 2), 15, "male")
    assert normalise_value(RESIDENT_ID_SYSTEM, f" {rid.lower()} ") == rid.upper()
    assert normalise_value("urn:other", " x1 ") == "x1"
