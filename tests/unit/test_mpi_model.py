"""The Fellegi–Sunter model: weights by hand, TF adjustment, decisions, serialisation."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from hub.mpi.matching.model import ComparisonParams, Decision, MatchModel, ModelError

PRIOR = 0.01


def _model(**changes: Any) -> MatchModel:
    model = MatchModel(
        version="test-1",
        comparisons=[
            ComparisonParams(
                name="surname",
                levels=["different", "exact"],
                m=[0.1, 0.9],
                u=[0.99, 0.01],
                tf_level=1,
                tf_min=1e-5,
            ),
            ComparisonParams(
                name="birth_date",
                levels=["different", "one_digit", "exact"],
                m=[0.2, 0.3, 0.5],
                u=[0.7, 0.2, 0.1],
            ),
        ],
        prior=PRIOR,
        tf={"surname": {"wang": 0.1, "ouyang": 0.0001}},
        upper_threshold=0.9,
        lower_threshold=0.3,
        trained_at="2024-05-01T00:00:00+00:00",
        notes={"candidate_pairs": 1234, "em_converged": True},
    )
    return replace(model, **changes) if changes else model


PRIOR_WEIGHT = math.log2(PRIOR / (1 - PRIOR))


def test_weights_by_hand() -> None:
    model = _model()
    assert model.match_weight([1, 2]) == pytest.approx(
        PRIOR_WEIGHT + math.log2(0.9 / 0.01) + math.log2(0.5 / 0.1)
    )
    assert model.match_weight((0, 0)) == pytest.approx(
        PRIOR_WEIGHT + math.log2(0.1 / 0.99) + math.log2(0.2 / 0.7)
    )
    assert model.match_weight([0, 1]) == pytest.approx(
        PRIOR_WEIGHT + math.log2(0.1 / 0.99) + math.log2(0.3 / 0.2)
    )
    assert model.bayes_factors([1, 2]) == pytest.approx([90.0, 5.0])


def test_missing_comparisons_are_neutral() -> None:
    model = _model()
    assert model.match_weight([-1, 2]) == pytest.approx(PRIOR_WEIGHT + math.log2(5.0))
    assert model.match_weight([-1, -1]) == pytest.approx(PRIOR_WEIGHT)
    assert model.bayes_factors([-1, 0]) == pytest.approx([1.0, 2 / 7])
    assert model.match_probability(model.match_weight([-1, -1])) == pytest.approx(PRIOR)


def test_vector_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ModelError):
        _model().match_weight([1])
    with pytest.raises(ModelError):
        _model().bayes_factors([1, 1, 1])


def test_rare_value_agreement_weighs_more_than_a_common_one() -> None:
    model = _model()
    common = model.match_weight([1, 2], ["wang", None])
    rare = model.match_weight([1, 2], ["ouyang", None])
    unseen = model.match_weight([1, 2], ["zhuge", None])
    assert common < model.match_weight([1, 2]) < rare < unseen
    assert common == pytest.approx(PRIOR_WEIGHT + math.log2(0.9 / 0.1) + math.log2(5.0))
    assert rare == pytest.approx(PRIOR_WEIGHT + math.log2(0.9 / 0.0001) + math.log2(5.0))
    assert unseen == pytest.approx(PRIOR_WEIGHT + math.log2(0.9 / 1e-5) + math.log2(5.0))
    assert model.bayes_factors([1, 2], ["ouyang", None]) == pytest.approx([9000.0, 5.0])


def test_tf_applies_only_at_the_tf_level_and_with_a_value() -> None:
    model = _model()
    plain = model.match_weight([0, 2])
    assert model.match_weight([0, 2], ["ouyang", None]) == pytest.approx(plain)
    assert model.match_weight([1, 2], [None, None]) == pytest.approx(model.match_weight([1, 2]))
    assert model.match_weight([1, 2], ["", None]) == pytest.approx(model.match_weight([1, 2]))
    assert model.match_weight([-1, 2], ["ouyang", None]) == pytest.approx(
        model.match_weight([-1, 2])
    )


def test_tf_floor_bounds_a_frequency() -> None:
    model = _model(tf={"surname": {"wang": 0.1, "ouyang": 1e-9}})
    assert model.match_weight([1, 0], ["ouyang", None]) == pytest.approx(
        PRIOR_WEIGHT + math.log2(0.9 / 1e-5) + math.log2(0.2 / 0.7)
    )


def test_probability_and_decisions() -> None:
    model = _model()
    assert model.match_probability(0.0) == pytest.approx(0.5)
    assert model.match_probability(math.log2(9.0)) == pytest.approx(0.9)
    assert model.match_probability(5000.0) == 1.0
    assert model.match_probability(-5000.0) == pytest.approx(0.0)
    assert model.decide(0.9) is Decision.LINK
    assert model.decide(0.999) is Decision.LINK
    assert model.decide(0.8999) is Decision.REVIEW
    assert model.decide(0.3) is Decision.REVIEW
    assert model.decide(0.2999) is Decision.NEW
    assert str(Decision.LINK) == "link"


def test_replace_recompiles_the_tables() -> None:
    model = _model(prior=0.5)
    assert model.match_weight([-1, -1]) == pytest.approx(0.0)


def test_json_roundtrip_is_exact_and_deterministic() -> None:
    model = _model()
    text = model.to_json()
    again = MatchModel.from_json(text)
    assert again == model
    assert again.to_json() == text
    assert json.loads(text)["format_version"] == 1
    for vector in ([1, 2], [0, 1], [-1, 0]):
        assert again.match_weight(vector, ["ouyang", None]) == model.match_weight(
            vector, ["ouyang", None]
        )
    shuffled = _model(tf={"surname": {"ouyang": 0.0001, "wang": 0.1}})
    assert shuffled.to_json() == text


def _mutate(change: Callable[[dict[str, Any]], None]) -> str:
    data = copy.deepcopy(_model().to_dict())
    change(data)
    return json.dumps(data)


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target: Any = data
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


def _delete(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.pop(key)


@pytest.mark.parametrize(
    "change",
    [
        _set(("format_version",), 99),
        _set(("format_version",), "1"),
        _delete("prior"),
        _delete("comparisons"),
        _set(("prior",), 0.0),
        _set(("prior",), 1.0),
        _set(("prior",), "0.5"),
        _set(("prior",), None),
        _set(("comparisons",), []),
        _set(("comparisons",), {"a": 1}),
        _set(("comparisons", 0, "m"), [0.1, 0.8, 0.1]),
        _set(("comparisons", 0, "m"), [0.0, 1.0]),
        _set(("comparisons", 0, "u"), [0.5, 0.6]),
        _set(("comparisons", 0, "levels"), ["only"]),
        _set(("comparisons", 0, "tf_level"), 2),
        _set(("comparisons", 0, "tf_level"), 1.0),
        _set(("comparisons", 0, "tf_min"), 0.0),
        _set(("comparisons", 1, "name"), "surname"),
        _set(("tf",), {"birth_date": {"19800101": 0.01}}),
        _set(("tf",), {"surname": {"wang": 1.5}}),
        _set(("tf",), {"unknown": {"x": 0.5}}),
        _set(("upper_threshold",), 0.2),
        _set(("lower_threshold",), -0.1),
        _set(("upper_threshold",), True),
    ],
)
def test_invalid_models_are_refused(change: Callable[[dict[str, Any]], None]) -> None:
    with pytest.raises(ModelError):
        MatchModel.from_json(_mutate(change))


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", "null", '{"format_version": 1}'])
def test_malformed_json_is_refused(text: str) -> None:
    with pytest.raises(ModelError):
        MatchModel.from_json(text)


def test_errors_do_not_echo_values() -> None:
    bad = _mutate(_set(("tf",), {"surname": {"zhangsan-secret": 2.0}}))
    with pytest.raises(ModelError) as info:
        MatchModel.from_json(bad)
    assert "zhangsan-secret" not in str(info.value)


def test_constructor_validates_too() -> None:
    with pytest.raises(ModelError):
        _model(prior=1.5)
    assert issubclass(ModelError, ValueError)
