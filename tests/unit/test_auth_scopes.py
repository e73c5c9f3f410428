from __future__ import annotations

import pytest

from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.auth.scopes import (
    Interaction,
    Scope,
    ScopeError,
    allows,
    narrow,
    parse_scope,
    parse_scopes,
    patient_context_only,
)

C, R, U, D, S = (
    Interaction.create,
    Interaction.read,
    Interaction.update,
    Interaction.delete,
    Interaction.search,
)


# --- parsing ---


@pytest.mark.parametrize(
    ("text", "context", "resource_type", "permissions"),
    [
        ("patient/Observation.rs", "patient", "Observation", {R, S}),
        ("user/*.cruds", "user", "*", {C, R, U, D, S}),
        ("system/Patient.c", "system", "Patient", {C}),
        ("system/Encounter.cud", "system", "Encounter", {C, U, D}),
        ("user/MedicationRequest.s", "user", "MedicationRequest", {S}),
        # SMART v1
        ("patient/Observation.read", "patient", "Observation", {R, S}),
        ("user/Patient.write", "user", "Patient", {C, U, D}),
        ("system/*.*", "system", "*", {C, R, U, D, S}),
        ("system/*.read", "system", "*", {R, S}),
    ],
)
def test_parse_scope(text: str, context: str, resource_type: str, permissions: set[str]) -> None:
    scope = parse_scope(text)
    assert scope == Scope(context, resource_type, frozenset(permissions), text)  # type: ignore[arg-type]
    assert not scope.restricted


@pytest.mark.parametrize(
    "text",
    [
        "patient/Observation.sr",  # letters out of order
        "patient/Observation.rr",  # repeated letter
        "patient/Observation.",  # no permissions
        "patient/Observation.x",
        "patient/Observation.readwrite",
        "patient/Observation",
        "practitioner/Patient.rs",  # unknown context
        "patient/observation.rs",  # type names start upper-case
        "patient/Observation.rs?",  # empty query
        "patient/Observation.read?category=laboratory",  # query needs v2 permissions
        "system/*.rs extra",
        "openid",
        "",
    ],
)
def test_parse_scope_rejects_malformed(text: str) -> None:
    with pytest.raises(ScopeError):
        parse_scope(text)


def test_query_restricted_scope_is_accepted_but_grants_nothing() -> None:
    scope = parse_scope("patient/Observation.rs?category=laboratory")
    assert scope.restricted
    assert scope.context == "patient"
    assert scope.resource_type == "Observation"
    assert scope.permissions == frozenset()
    assert not allows([scope], "Observation", Interaction.read)


def test_parse_scopes_skips_non_resource_scopes() -> None:
    text = "openid fhirUser launch/patient offline_access  online_access patient/Patient.rs "
    assert parse_scopes(text) == (parse_scope("patient/Patient.rs"),)
    assert parse_scopes("") == ()


def test_parse_scopes_rejects_a_malformed_resource_scope() -> None:
    with pytest.raises(ScopeError):
        parse_scopes("openid patient/Patient.sr")


def test_scope_error_is_a_value_error() -> None:
    assert issubclass(ScopeError, ValueError)


@pytest.mark.parametrize("role", list(Role))
def test_default_scopes_parse(role: Role) -> None:
    assert parse_scopes(DEFAULT_SCOPES[role])


def test_auditor_only_reads_and_searches() -> None:
    scopes = parse_scopes(DEFAULT_SCOPES[Role.auditor])
    assert allows(scopes, "AuditEvent", Interaction.read)
    assert allows(scopes, "Patient", Interaction.search)
    for interaction in (C, U, D):
        assert not allows(scopes, "Patient", interaction)


# --- allows ---


@pytest.mark.parametrize(
    ("scope_text", "resource_type", "interaction", "expected"),
    [
        ("system/*.cruds", "Patient", D, True),
        ("system/Patient.rs", "Patient", R, True),
        ("system/Patient.rs", "Patient", U, False),
        ("system/Patient.rs", "Observation", R, False),
        ("patient/*.read", "Observation", S, True),
        ("patient/*.read", "Observation", C, False),
        ("user/Patient.write", "Patient", U, True),
        ("patient/Appointment.cruds patient/*.rs", "Appointment", C, True),
        ("patient/Appointment.cruds patient/*.rs", "Observation", C, False),
        ("openid fhirUser", "Patient", R, False),
    ],
)
def test_allows(
    scope_text: str, resource_type: str, interaction: Interaction, expected: bool
) -> None:
    assert allows(parse_scopes(scope_text), resource_type, interaction) is expected


# --- narrow ---


@pytest.mark.parametrize(
    ("requested", "allowed", "granted"),
    [
        # an empty request gets everything allowed
        ("", "system/*.rs system/Patient.cruds", "system/*.rs system/Patient.cruds"),
        ("   ", "system/*.rs", "system/*.rs"),
        # wildcard types and permission subsets
        ("system/Patient.rs", "system/*.cruds", "system/Patient.rs"),
        ("system/Patient.cruds", "system/Patient.rs", "system/Patient.rs"),
        ("system/Patient.cruds", "system/*.rs", "system/Patient.rs"),
        ("system/*.rs", "system/Patient.rs", "system/Patient.rs"),
        ("system/*.cruds", "system/*.rs system/Patient.cud", "system/*.rs system/Patient.cud"),
        ("system/*.rs", "system/*.r system/Patient.r", "system/*.r"),
        ("system/Patient.cruds", "system/Patient.c system/*.rs", "system/Patient.crs"),
        # nothing in common
        ("system/Patient.d", "system/*.rs", ""),
        ("system/Observation.rs", "system/Patient.cruds", ""),
        # contexts never mix
        ("patient/Patient.rs", "system/*.cruds", ""),
        ("system/Patient.rs", "user/*.cruds", ""),
        # v1 text is kept when granted in full, rewritten as v2 when cut down
        ("system/Patient.read", "system/*.cruds", "system/Patient.read"),
        ("system/Patient.*", "system/*.rs", "system/Patient.rs"),
        # several requested scopes, duplicates collapse
        (
            "system/Patient.rs system/Observation.cruds system/Patient.rs",
            "system/Patient.rs system/Observation.r",
            "system/Patient.rs system/Observation.r",
        ),
        # non-resource and query-restricted scopes pass only verbatim
        (
            "openid offline_access system/Patient.r",
            "offline_access system/*.rs",
            "offline_access system/Patient.r",
        ),
        (
            "patient/Observation.rs?category=laboratory",
            "patient/*.rs",
            "",
        ),
        (
            "patient/Observation.rs?category=laboratory",
            "patient/Observation.rs?category=laboratory",
            "patient/Observation.rs?category=laboratory",
        ),
    ],
)
def test_narrow(requested: str, allowed: str, granted: str) -> None:
    assert narrow(requested, allowed) == granted


def test_narrow_rejects_malformed_requests() -> None:
    with pytest.raises(ScopeError):
        narrow("system/Patient.sr", "system/*.cruds")


def test_narrow_result_never_exceeds_allowed() -> None:
    allowed = DEFAULT_SCOPES[Role.patient]
    granted = parse_scopes(narrow("patient/*.cruds", allowed))
    assert allows(granted, "Appointment", Interaction.create)
    assert allows(granted, "Observation", Interaction.read)
    assert not allows(granted, "Observation", Interaction.create)


# --- patient context ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("patient/*.rs patient/Consent.cruds", True),
        ("openid patient/Patient.r launch/patient", True),
        ("patient/*.rs user/Practitioner.r", False),
        ("system/*.rs", False),
        # a restricted user scope grants nothing, so it does not widen the context
        ("patient/*.rs user/Observation.rs?category=vital-signs", True),
        # no granting scope at all: the restrictive answer
        ("openid", True),
    ],
)
def test_patient_context_only(text: str, expected: bool) -> None:
    assert patient_context_only(parse_scopes(text)) is expected


def test_a_wildcard_scope_does_not_reach_the_claims_audit_findings() -> None:
    from hub.auth.scopes import Interaction, allows, narrow, parse_scopes

    assert not allows(parse_scopes("system/*.cruds"), "DetectedIssue", Interaction.read)
    assert allows(parse_scopes("system/DetectedIssue.rs"), "DetectedIssue", Interaction.read)
    # a facility system asking for the type by name is granted nothing of it
    assert narrow("system/DetectedIssue.rs", "system/*.cruds") == ""
    assert narrow("system/*.rs", "system/*.cruds system/DetectedIssue.rus") == (
        "system/*.rs system/DetectedIssue.rs"
    )
