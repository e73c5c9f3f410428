"""Parsing FHIR search query parameters into a SearchRequest (hub.fhir.search.params)."""

from __future__ import annotations

import pytest

from hub.errors import InvalidRequest
from hub.fhir.registry import ParamType
from hub.fhir.search.params import (
    Criterion,
    Include,
    SearchLimits,
    SearchRequest,
    parse_search,
    split_or_values,
    split_prefix,
)
from hub.fhir.search_parameters import RESOURCE_DEFS

MAX_COUNT = 100


def parse(resource_type: str, *pairs: tuple[str, str], lenient: bool = False) -> SearchRequest:
    return parse_search(
        resource_type,
        list(pairs),
        RESOURCE_DEFS,
        default_count=20,
        max_count=MAX_COUNT,
        lenient=lenient,
    )


def refused(resource_type: str, *pairs: tuple[str, str]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse(resource_type, *pairs)
    assert caught.value.status == 400
    return caught.value


def only(request: SearchRequest) -> Criterion:
    assert len(request.criteria) == 1
    return request.criteria[0]


# -- values: OR, AND, escaping --------------------------------------------------------------


def test_comma_is_or_within_one_criterion() -> None:
    criterion = only(parse("Patient", ("gender", "male,female")))
    assert criterion.param.name == "gender"
    assert criterion.values == ("male", "female")


def test_repetition_is_and() -> None:
    request = parse("Patient", ("given", "伟"), ("given", "Wei"))
    assert [c.values for c in request.criteria] == [("伟",), ("Wei",)]


def test_escaped_comma_is_part_of_the_value() -> None:
    assert only(parse("Patient", ("name", r"Smith\,John"))).values == ("Smith,John",)
    assert split_or_values(r"a\,b,c") == ("a,b", "c")
    assert split_or_values(r"a\\b") == ("a\\b",)
    assert split_or_values("a,,b,") == ("a", "b")


def test_empty_value_is_refused_naming_the_parameter() -> None:
    error = refused("Patient", ("family", ""))
    assert error.expression == ["family"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ge1980", ("ge", "1980")),
        ("lt2024-01-01", ("lt", "2024-01-01")),
        ("ap5.4", ("ap", "5.4")),
        ("gt-3", ("gt", "-3")),
        ("1980", ("eq", "1980")),
        ("eq1980", ("eq", "1980")),
        ("ne", ("eq", "ne")),  # too short to carry a prefix
        ("gex", ("eq", "gex")),  # a prefix is always followed by a number or date
    ],
)
def test_split_prefix(raw: str, expected: tuple[str, str]) -> None:
    assert split_prefix(raw) == expected


# -- modifiers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource_type", "key", "modifier"),
    [
        ("Patient", "name:exact", "exact"),
        ("Patient", "family:contains", "contains"),
        ("Patient", "address:missing", "missing"),
        ("Patient", "gender:not", "not"),
        ("Patient", "identifier:missing", "missing"),
        ("Patient", "birthdate:missing", "missing"),
        ("Patient", "_profile:below", "below"),
        ("Observation", "value-quantity:missing", "missing"),
        ("Observation", "subject:missing", "missing"),
    ],
)
def test_allowed_modifiers(resource_type: str, key: str, modifier: str) -> None:
    value = "true" if modifier == "missing" else "x"
    assert only(parse(resource_type, (key, value))).modifier == modifier


@pytest.mark.parametrize(
    ("resource_type", "key"),
    [
        ("Patient", "name:not"),  # :not is a token modifier
        ("Patient", "family:below"),
        ("Patient", "gender:exact"),  # :exact is a string modifier
        ("Patient", "gender:contains"),
        ("Patient", "birthdate:exact"),
        ("Patient", "name:foo"),
        ("Observation", "code:text"),  # not indexed: refused rather than answered wrongly
        ("Observation", "code:in"),
        ("Patient", "_profile:above"),
        ("Patient", "gender:below"),  # :below here is for URIs only
        ("Observation", "value-quantity:not"),
        ("Observation", "subject:exact"),
        ("Observation", "subject:Nonsense"),
    ],
)
def test_refused_modifiers_name_the_parameter(resource_type: str, key: str) -> None:
    error = refused(resource_type, (key, "x"))
    assert error.expression == [key]
    assert key.partition(":")[0] in error.diagnostics


def test_type_modifier_on_reference_sets_the_target_type() -> None:
    criterion = only(parse("Observation", ("subject:Patient", "123")))
    assert criterion.target_type == "Patient"
    assert criterion.modifier is None


def test_type_modifier_must_be_a_target_of_the_parameter() -> None:
    error = refused("Observation", ("patient:Group", "1"))
    assert error.expression == ["patient:Group"]


# -- chains ----------------------------------------------------------------------------------


def test_chain_with_type_modifier() -> None:
    criterion = only(parse("Observation", ("subject:Patient.identifier", "urn:x|1")))
    assert criterion.param.name == "subject"
    assert criterion.target_type == "Patient"
    assert criterion.chain == "identifier"
    assert criterion.values == ("urn:x|1",)


def test_chain_on_a_single_target_parameter_needs_no_type() -> None:
    criterion = only(parse("Observation", ("patient.name", "张伟")))
    assert criterion.param.name == "patient"
    assert criterion.target_type == "Patient"
    assert criterion.chain == "name"


def test_chain_keeps_the_modifier_of_the_chained_parameter() -> None:
    criterion = only(parse("Observation", ("patient.name:exact", "张伟")))
    assert criterion.param.name == "patient"
    assert criterion.chain == "name:exact"


def test_ambiguous_chain_needs_a_type() -> None:
    error = refused("Observation", ("subject.name", "x"))
    assert error.expression == ["subject.name"]
    assert "subject:Type" in error.diagnostics


def test_chain_on_a_non_reference_parameter_is_refused() -> None:
    error = refused("Patient", ("name.family", "x"))
    assert error.expression == ["name.family"]


# -- unknown parameters, lenient handling ----------------------------------------------------


def test_unknown_parameter_is_refused_naming_it() -> None:
    error = refused("Patient", ("colour", "blue"))
    assert error.expression == ["colour"]
    assert "colour" in error.diagnostics


def test_lenient_mode_ignores_unknown_parameters() -> None:
    request = parse("Patient", ("colour", "blue"), ("family", "张"), lenient=True)
    assert [c.param.name for c in request.criteria] == ["family"]


def test_lenient_mode_still_refuses_bad_modifiers() -> None:
    with pytest.raises(InvalidRequest):
        parse("Patient", ("family:foo", "x"), lenient=True)


def test_common_parameters_exist_on_every_type() -> None:
    request = parse("Observation", ("_id", "a,b"), ("_lastUpdated", "ge2024"))
    assert [c.param.name for c in request.criteria] == ["_id", "_lastUpdated"]
    assert request.criteria[1].param.type is ParamType.DATE


# -- result parameters -----------------------------------------------------------------------


def test_defaults() -> None:
    request = parse("Patient")
    assert request.count == 20
    assert request.offset == 0
    assert request.total == "accurate"
    assert not request.summary_count
    assert request.sort == [] and request.includes == [] and request.elements == ()


@pytest.mark.parametrize(("raw", "count"), [("0", 0), ("1", 1), ("100", 100)])
def test_count_within_bounds(raw: str, count: int) -> None:
    assert parse("Patient", ("_count", raw)).count == count


def test_count_above_the_maximum_is_reduced_to_it() -> None:
    # _count is a hint: a server may return fewer than asked, never more.
    assert parse("Patient", ("_count", "5000")).count == MAX_COUNT


@pytest.mark.parametrize("raw", ["-1", "abc", "1.5", ""])
def test_bad_count_is_refused(raw: str) -> None:
    assert refused("Patient", ("_count", raw)).expression == ["_count"]


def test_offset() -> None:
    assert parse("Patient", ("_offset", "40")).offset == 40
    assert refused("Patient", ("_offset", "-1")).expression == ["_offset"]


def test_sort_ascending_and_descending() -> None:
    request = parse("Patient", ("_sort", "-birthdate,family,_lastUpdated"))
    assert request.sort == [("birthdate", True), ("family", False), ("_lastUpdated", False)]


def test_sort_by_unknown_parameter_names_it() -> None:
    error = refused("Patient", ("_sort", "family,-shoe-size"))
    assert error.expression == ["_sort"]
    assert "shoe-size" in error.diagnostics


def test_include_and_revinclude() -> None:
    request = parse(
        "Observation",
        ("_include", "Observation:subject"),
        ("_include", "Observation:performer:Practitioner"),
        ("_revinclude", "Provenance:target"),
    )
    assert request.includes == [
        Include("Observation", "subject", None, reverse=False),
        Include("Observation", "performer", "Practitioner", reverse=False),
        Include("Provenance", "target", None, reverse=True),
    ]


def test_include_iterate_is_accepted() -> None:
    request = parse("Observation", ("_include:iterate", "Observation:subject"))
    assert request.includes == [Include("Observation", "subject", None, reverse=False)]


def test_revinclude_on_patient() -> None:
    request = parse("Patient", ("_revinclude", "Observation:subject"))
    assert request.includes == [Include("Observation", "subject", None, reverse=True)]


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("_include", "Observation"),  # no parameter
        ("_include", "Observation:code"),  # not a reference parameter
        ("_include", "Observation:nonsense"),
        ("_include", "Patient:organization"),  # must start with the searched type
        ("_include", "Nonsense:subject"),
        ("_revinclude", "Observation:subject:Patient:extra"),
        ("_include", "Observation:subject:Practitioner"),  # not a target of subject
        ("_include", "Observation:subject:Nonsense"),
    ],
)
def test_bad_include_is_refused(key: str, raw: str) -> None:
    assert refused("Observation", (key, raw)).expression == [key]


def test_total_summary_and_elements() -> None:
    request = parse(
        "Patient", ("_total", "none"), ("_summary", "count"), ("_elements", "name, gender")
    )
    assert request.total == "none"
    assert request.summary_count
    assert request.elements == ("name", "gender")
    assert refused("Patient", ("_total", "some")).expression == ["_total"]
    assert refused("Patient", ("_summary", "everything")).expression == ["_summary"]


def test_format_and_pretty_are_not_criteria() -> None:
    assert parse("Patient", ("_format", "json"), ("_pretty", "true")).criteria == []


# -- limits: what one search may ask ---------------------------------------------------------

LIMITS = SearchLimits(parameters=5, values=3, total_values=8)


def limited(resource_type: str, *pairs: tuple[str, str]) -> SearchRequest:
    return parse_search(
        resource_type, list(pairs), RESOURCE_DEFS, default_count=20, max_count=100, limits=LIMITS
    )


def too_costly(resource_type: str, *pairs: tuple[str, str]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        limited(resource_type, *pairs)
    assert (caught.value.status, caught.value.code) == (400, "too-costly")
    return caught.value


def test_parameters_beyond_the_limit_are_refused() -> None:
    assert len(limited("Observation", *[("code", "a")] * 5).criteria) == 5
    assert "at most 5 parameters" in too_costly("Observation", *[("code", "a")] * 6).diagnostics
    # result parameters and those lenient handling would ignore count as well
    too_costly("Observation", *[("code", "a")] * 4, ("_count", "1"), ("_sort", "date"))


def test_values_beyond_the_limit_are_refused_naming_the_parameter() -> None:
    assert only(limited("Observation", ("code", "a,b,c"))).values == ("a", "b", "c")
    for key, raw in (
        ("code", "a,b,c,d"),
        ("_sort", "date,code,subject,_id"),
        ("_elements", "code,status,subject,note"),
        ("_include", ",".join(["Observation:subject"] * 4)),
    ):
        assert too_costly("Observation", (key, raw)).expression == [key]


def test_values_of_all_parameters_together_are_bounded() -> None:
    assert len(limited("Observation", *[("code", "a,b")] * 4).criteria) == 4
    error = too_costly("Observation", *[("code", "a,b,c")] * 3)
    assert "at most 8 values in all" in error.diagnostics


def test_limits_default_to_the_settings() -> None:
    assert len(parse("Observation", *[("code", "a")] * 100).criteria) == 100
    assert refused("Observation", *[("code", "a")] * 101).code == "too-costly"
    assert refused("Observation", ("code", ",".join(["a"] * 101))).code == "too-costly"


def test_repeated_sort_keys_and_includes_are_kept_once() -> None:
    request = parse(
        "Observation",
        ("_sort", "date,-date,code"),
        ("_include", "Observation:subject,Observation:subject"),
        ("_include", "Observation:subject"),
    )
    assert request.sort == [("date", False), ("code", False)]
    assert request.includes == [Include("Observation", "subject", None, False)]


def test_chains_of_more_than_two_links_are_refused() -> None:
    two = only(parse("Observation", ("subject:Patient.organization.name", "x")))
    assert (two.target_type, two.chain) == ("Patient", "organization.name")
    key = "subject:Patient.organization.partof.name"
    error = refused("Observation", (key, "x"))
    assert (error.code, error.expression) == ("too-costly", [key])


@pytest.mark.parametrize("raw", ["1e309", "gt1e400|http://unitsofmeasure.org|mg", "9" * 400])
def test_numbers_no_double_holds_are_refused(raw: str) -> None:
    assert refused("Observation", ("value-quantity", raw)).expression == ["value-quantity"]


@pytest.mark.parametrize("raw", ["1e308", "1e-9999999", "-5.4|http://unitsofmeasure.org|mg"])
def test_numbers_a_double_holds_are_kept(raw: str) -> None:
    assert only(parse("Observation", ("value-quantity", raw))).values == (raw,)
