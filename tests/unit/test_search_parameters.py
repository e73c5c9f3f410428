"""Check the search-parameter tables against the fhir.resources (R4B) models.

Every path step must be a real element at its level, the element a path ends on must suit the
parameter type, reference parameters must say what they point to, and compartment entries must
name reference parameters.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from pydantic import BaseModel

from hub.fhir.registry import ParamType, ResourceDef, SearchParam
from hub.fhir.search_parameters import (
    COMMON_PARAMS,
    RESOURCE_DEFS,
    SUPPORTED_TYPES,
    get_resource_def,
)

# R4 (4.0.1) elements that R4B (4.3.0, what fhir.resources ships) lacks or renamed. The tables
# keep the R4 path; each entry is (resource type, path) with the reason. Empty: every R4 path
# used today also exists in R4B.
R4_ONLY_PATHS: dict[tuple[str, str], str] = {}

# Reference parameters that R4 defines as pointing at any resource type (no target list).
GENERIC_REFERENCES: set[tuple[str, str]] = {
    ("Appointment", "supporting-info"),
    ("AuditEvent", "entity"),
    ("Communication", "based-on"),
    ("Communication", "part-of"),
    ("Composition", "entry"),
    ("Composition", "subject"),
    ("Condition", "evidence-detail"),
    ("Consent", "data"),
    ("DetectedIssue", "implicated"),
    ("DocumentReference", "related"),
    ("Observation", "focus"),
    ("Provenance", "entity"),
    ("Provenance", "target"),
    ("Task", "based-on"),
    ("Task", "focus"),
    ("Task", "subject"),
}

# (resource type, parameter, path) whose element type deliberately differs from the usual
# types of the parameter type.
TYPE_EXCEPTIONS: dict[tuple[str, str, str], str] = {
    # FHIRPath: deceased.exists() and deceased != false; a death date means deceased=true.
    ("Patient", "deceased", "deceasedDateTime"): "a present dateTime indexes as true",
}

# FHIR types an element may have for each parameter type.
ALLOWED_TYPES: dict[ParamType, frozenset[str]] = {
    ParamType.TOKEN: frozenset(
        {
            "Identifier",
            "CodeableConcept",
            "Coding",
            "ContactPoint",
            "code",
            "boolean",
            "string",
            "id",
            "uri",
        }
    ),
    ParamType.STRING: frozenset({"string", "markdown", "HumanName", "Address"}),
    ParamType.DATE: frozenset({"date", "dateTime", "instant", "Period"}),
    # R4 also defines reference parameters over canonical URLs (instantiates-canonical).
    ParamType.REFERENCE: frozenset({"Reference", "canonical"}),
    ParamType.QUANTITY: frozenset(
        {"Quantity", "SimpleQuantity", "Age", "Duration", "Distance", "Count", "Money"}
    ),
    ParamType.NUMBER: frozenset({"decimal", "integer", "positiveInt", "unsignedInt"}),
    ParamType.URI: frozenset({"uri", "url", "canonical", "oid", "uuid"}),
}

REQUESTED_TYPES = {
    "Patient", "Organization", "Location", "Practitioner", "PractitionerRole", "Encounter",
    "Observation", "DiagnosticReport", "Condition", "ServiceRequest", "Task", "Communication",
    "Appointment", "AppointmentResponse", "Slot", "Schedule", "Consent", "Coverage",
    "CoverageEligibilityRequest", "CoverageEligibilityResponse", "Claim", "ClaimResponse",
    "ExplanationOfBenefit", "MedicationRequest", "MedicationDispense", "Medication",
    "ChargeItem", "DocumentReference", "Binary", "AuditEvent", "Provenance", "Subscription",
    "Person", "Device", "Endpoint", "HealthcareService", "Composition", "DetectedIssue",
    "PaymentReconciliation",
}  # fmt: skip

_STEP = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9]*)(?:\[(?P<key>[A-Za-z]+)=(?P<value>[^\]]+)\])?$")


def split_path(path: str) -> list[str]:
    """Split a registry path at the dots that are outside ``[...]`` filters."""
    steps: list[str] = []
    depth = 0
    current = ""
    for char in path:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "." and depth == 0:
            steps.append(current)
            current = ""
        else:
            current += char
    steps.append(current)
    return steps


def _unwrap(annotation: Any) -> Any:
    """Strip Optional / List / Union wrappers down to the element's own type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        elif origin is list:
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation


def element_type(annotation: Any) -> tuple[str, type[BaseModel] | None]:
    """The FHIR type name of a field and, for a complex type, its model class."""
    inner = _unwrap(annotation)
    if typing.get_origin(inner) is typing.Annotated:
        metadata = inner.__metadata__[0]
        name = type(metadata).__name__
        return name[0].lower() + name[1:], None
    if inner is bool:
        return "boolean", None
    get_model = getattr(inner, "get_model_klass", None)
    if get_model is not None:
        model = get_model()
        return model.__name__, model
    raise AssertionError(f"cannot tell the FHIR type of annotation {annotation!r}")


def fields_by_alias(model: type[BaseModel]) -> dict[str, Any]:
    """Model fields keyed by their FHIR element name (``class_fhir`` -> ``class``)."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        alias = info.alias or name
        if alias == "fhir_comments" or alias.startswith("_"):
            continue
        out[alias] = info
    return out


def resolve_path(resource_type: str, path: str) -> str:
    """Walk ``path`` over the R4B model; return the FHIR type of the final element.

    Raises AssertionError naming the first step that is not an element at its level.
    """
    model: type[BaseModel] | None = get_fhir_model_class(resource_type)
    type_name = resource_type
    for step in split_path(path):
        match = _STEP.match(step)
        assert match, f"{resource_type}.{path}: malformed step {step!r}"
        assert model is not None, (
            f"{resource_type}.{path}: {step!r} follows the primitive type {type_name}"
        )
        fields = fields_by_alias(model)
        name = match["name"]
        assert name in fields, (
            f"{resource_type}.{path}: {name!r} is not an element of {model.__name__}"
        )
        type_name, model = element_type(fields[name].annotation)
        key = match["key"]
        if key is not None:
            assert model is not None, f"{resource_type}.{path}: filter on primitive {name!r}"
            assert key in fields_by_alias(model), (
                f"{resource_type}.{path}: filter key {key!r} is not an element of {type_name}"
            )
    return type_name


def _all_paths() -> list[tuple[str, SearchParam, str]]:
    return [
        (rtype, param, path)
        for rtype, rdef in sorted(RESOURCE_DEFS.items())
        for param in rdef.params.values()
        for path in param.paths
    ]


ALL_PATHS = _all_paths()


def _id(case: tuple[str, SearchParam, str]) -> str:
    return f"{case[0]}.{case[1].name}:{case[2]}"


def test_every_requested_type_is_defined() -> None:
    assert set(SUPPORTED_TYPES) == REQUESTED_TYPES
    assert list(SUPPORTED_TYPES) == sorted(SUPPORTED_TYPES)
    for rtype, rdef in RESOURCE_DEFS.items():
        assert rdef.type == rtype
        assert get_resource_def(rtype) is rdef
    assert get_resource_def("NoSuchType") is None


@pytest.mark.parametrize("case", ALL_PATHS, ids=[_id(c) for c in ALL_PATHS])
def test_path_is_a_real_element(case: tuple[str, SearchParam, str]) -> None:
    rtype, param, path = case
    if (rtype, path) in R4_ONLY_PATHS:
        with pytest.raises(AssertionError):
            resolve_path(rtype, path)
        return
    found = resolve_path(rtype, path)
    if (rtype, param.name, path) in TYPE_EXCEPTIONS:
        return
    assert found in ALLOWED_TYPES[param.type], (
        f"{rtype}.{param.name} ({param.type}) path {path!r} ends on a {found}"
    )


def test_common_params_merged_after_type_specific() -> None:
    common = list(COMMON_PARAMS)
    for rdef in RESOURCE_DEFS.values():
        names = list(rdef.params)
        assert names[-len(common) :] == common, rdef.type
        for name, param in rdef.params.items():
            assert param.name == name
            assert param.paths, f"{rdef.type}.{name} has no path"


def test_reference_params_have_targets_or_are_generic() -> None:
    generic_seen: set[tuple[str, str]] = set()
    for rdef in RESOURCE_DEFS.values():
        for param in rdef.params.values():
            key = (rdef.type, param.name)
            if param.type is not ParamType.REFERENCE:
                assert not param.targets, f"{key}: targets on a {param.type} parameter"
                continue
            if param.targets:
                assert key not in GENERIC_REFERENCES, f"{key} is listed generic but has targets"
                for target in param.targets:
                    get_fhir_model_class(target)  # a real resource type (raises otherwise)
            else:
                assert key in GENERIC_REFERENCES, f"{key}: reference parameter without targets"
                generic_seen.add(key)
    assert generic_seen == GENERIC_REFERENCES


@pytest.mark.parametrize("rtype", sorted(RESOURCE_DEFS))
def test_compartment_names_defined_reference_params(rtype: str) -> None:
    rdef: ResourceDef = RESOURCE_DEFS[rtype]
    for name in rdef.patient_compartment:
        param = rdef.params.get(name)
        assert param is not None, f"{rtype}: compartment param {name!r} is not defined"
        assert param.type is ParamType.REFERENCE, f"{rtype}.{name} is not a reference"
        assert not param.targets or "Patient" in param.targets, (
            f"{rtype}.{name} cannot point at a Patient"
        )


def test_patient_compartment_matches_r4() -> None:
    expected = {
        "Patient": ("link",),
        "Observation": ("subject", "performer"),
        "AuditEvent": ("patient",),
        "Provenance": ("patient",),
        "Binary": (),
        "Task": (),
        "Coverage": ("policy-holder", "subscriber", "beneficiary", "payor"),
        "Claim": ("patient", "payee"),
    }
    for rtype, names in expected.items():
        assert RESOURCE_DEFS[rtype].patient_compartment == names, rtype


def test_patient_required_params() -> None:
    params = RESOURCE_DEFS["Patient"].params
    required = {
        "identifier", "name", "family", "given", "birthdate", "gender", "phone", "email",
        "telecom", "address", "address-city", "address-district", "address-postalcode",
        "organization", "general-practitioner", "active", "deceased", "link",
    }  # fmt: skip
    assert required <= set(params)
    assert params["organization"].paths == ("managingOrganization",)
    assert params["organization"].targets == ("Organization",)
    assert params["address-district"].paths == ("address.district",)
    assert params["phone"].paths == ("telecom[system=phone]",)


def test_audit_event_is_read_only() -> None:
    audit = RESOURCE_DEFS["AuditEvent"]
    assert audit.read_only
    assert "entity.what" in audit.params["patient"].paths
    assert audit.params["patient"].targets == ("Patient",)
    assert not any(d.read_only for t, d in RESOURCE_DEFS.items() if t != "AuditEvent")


@pytest.mark.parametrize(
    ("rtype", "path", "message"),
    [
        ("Observation", "efectiveDateTime", "'efectiveDateTime' is not an element"),
        ("Patient", "name.familyName", "'familyName' is not an element of HumanName"),
        ("Patient", "telecom[sytem=phone]", "filter key 'sytem'"),
        ("Patient", "birthDate.year", "follows the primitive type date"),
        ("Observation", "effective", "'effective' is not an element"),
    ],
)
def test_resolver_rejects_bad_paths(rtype: str, path: str, message: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(message)):
        resolve_path(rtype, path)


def test_resolver_types() -> None:
    assert resolve_path("Encounter", "class") == "Coding"
    assert resolve_path("Task", "for") == "Reference"
    assert resolve_path("Patient", "telecom[system=phone]") == "ContactPoint"
    assert resolve_path("Observation", "valueQuantity") == "Quantity"
    assert resolve_path("Patient", "meta.lastUpdated") == "instant"
    assert resolve_path("Patient", "active") == "boolean"
