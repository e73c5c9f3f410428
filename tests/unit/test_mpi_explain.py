"""Why a pair scored what it scored (hub.mpi.matching.explain): the steward's comparison view
adds up to the weight registration computes, field by field, under the household ceiling."""

from __future__ import annotations

import math
from datetime import date

import pytest

from hub.mpi.matching.compare import compare, tf_values
from hub.mpi.matching.explain import explain_pair
from hub.mpi.matching.features import MatchFeatures, features_from_row
from hub.mpi.matching.identifiers import make_resident_id
from hub.mpi.matching.model import Decision
from hub.mpi.training.registry import packaged_model

BIRTH = date(1972, 4, 14)


def _row(name: str, **values: str) -> MatchFeatures:
    row = {"name": name, "gender": "男", "birth_date": BIRTH.isoformat(),
           "phone": "17048763745", "address": "湖北省宜昌市枝江市土城村2组"} | values  # fmt: skip
    return features_from_row(row)


def test_the_fields_and_the_prior_add_up_to_the_models_weight() -> None:
    model = packaged_model()
    a, b = _row("陈凯波"), _row("陈凯波", phone="13907170001")
    score = explain_pair(model, a, b)
    levels = compare(a, b)
    assert score.weight == pytest.approx(model.match_weight(levels, tf_values(a)))
    assert score.prior_weight + sum(f.weight for f in score.fields) == pytest.approx(score.weight)
    assert score.probability == pytest.approx(model.match_probability(score.weight))
    assert [f.name for f in score.fields] == [c.name for c in model.comparisons]


def test_each_field_names_its_level_and_a_missing_one_weighs_nothing() -> None:
    model = packaged_model()
    score = explain_pair(model, _row("陈凯波"), _row("陈凯波", phone="13907170001"))
    fields = {f.name: f for f in score.fields}
    assert fields["family_name"].level == "exact" and fields["family_name"].weight > 0
    assert fields["phone"].level == "different" and fields["phone"].weight < 0
    assert fields["resident_id"].level is None and fields["resident_id"].weight == 0.0
    assert fields["sex"].weight == pytest.approx(
        math.log2(model.comparisons[4].m[1] / model.comparisons[4].u[1])
    )


def test_twins_with_two_valid_ids_are_capped_at_a_new_person() -> None:
    a = _row("陈凯波", id_number=make_resident_id("420583", BIRTH, 925, "male"))
    b = _row("陈凯波", id_number=make_resident_id("420583", BIRTH, 927, "male"))
    score = explain_pair(packaged_model(), a, b)
    assert score.ceiling is Decision.NEW and score.decision is Decision.NEW
    assert {f.name: f.level for f in score.fields}["resident_id"] == "different_valid"


def test_the_same_record_links() -> None:
    a = _row("陈凯波", id_number=make_resident_id("420583", BIRTH, 925, "male"))
    score = explain_pair(packaged_model(), a, a)
    assert score.decision is Decision.LINK and score.probability > 0.99
