"""Building blocks for the search-parameter tables in ``search_parameters_*.py``.

Short constructors keep the tables readable, and :func:`resource_def` merges the common
parameters and checks each definition as it is built.
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.fhir.registry import COMMON_PARAMS, ParamType, ResourceDef, SearchParam

Paths = str | tuple[str, ...]


def _paths(paths: Paths) -> tuple[str, ...]:
    return (paths,) if isinstance(paths, str) else paths


def token(
    name: str, paths: Paths, description: str = "", *, absent: str | None = None
) -> SearchParam:
    return SearchParam(name, ParamType.TOKEN, _paths(paths), description=description, absent=absent)


def string(name: str, paths: Paths, description: str = "") -> SearchParam:
    return SearchParam(name, ParamType.STRING, _paths(paths), description=description)


def date(name: str, paths: Paths, description: str = "") -> SearchParam:
    return SearchParam(name, ParamType.DATE, _paths(paths), description=description)


def quantity(name: str, paths: Paths, description: str = "") -> SearchParam:
    return SearchParam(name, ParamType.QUANTITY, _paths(paths), description=description)


def number(name: str, paths: Paths, description: str = "") -> SearchParam:
    return SearchParam(name, ParamType.NUMBER, _paths(paths), description=description)


def uri(name: str, paths: Paths, description: str = "") -> SearchParam:
    return SearchParam(name, ParamType.URI, _paths(paths), description=description)


def reference(
    name: str, paths: Paths, targets: tuple[str, ...] = (), description: str = ""
) -> SearchParam:
    """A reference parameter; empty ``targets`` means the element may point at any type."""
    return SearchParam(
        name, ParamType.REFERENCE, _paths(paths), targets=targets, description=description
    )


def resource_def(
    resource_type: str,
    params: Iterable[SearchParam],
    patient_compartment: tuple[str, ...] = (),
    read_only: bool = False,
) -> ResourceDef:
    """Build a :class:`ResourceDef`: type-specific parameters first, then COMMON_PARAMS.

    A common parameter never overrides a type-specific one of the same name. Raises
    ``ValueError`` on a duplicate parameter name or on a compartment entry that is not a
    reference parameter of this type.
    """
    merged: dict[str, SearchParam] = {}
    for param in params:
        if param.name in merged:
            raise ValueError(f"{resource_type}: duplicate search parameter {param.name!r}")
        merged[param.name] = param
    for name, param in COMMON_PARAMS.items():
        merged.setdefault(name, param)
    for name in patient_compartment:
        found = merged.get(name)
        if found is None or found.type is not ParamType.REFERENCE:
            raise ValueError(
                f"{resource_type}: compartment parameter {name!r} is not a reference parameter"
            )
    return ResourceDef(
        type=resource_type,
        params=merged,
        patient_compartment=patient_compartment,
        read_only=read_only,
    )


# Target lists that recur across resources (R4 reference target sets).
PRACTITIONER_ORG_ROLE = ("Practitioner", "Organization", "PractitionerRole")
PRACTITIONER_ROLE = ("Practitioner", "PractitionerRole")
SCHEDULE_ACTORS = (
    "Practitioner",
    "PractitionerRole",
    "Device",
    "Patient",
    "HealthcareService",
    "RelatedPerson",
    "Location",
)
AGENT_WHO = (
    "Practitioner",
    "PractitionerRole",
    "RelatedPerson",
    "Patient",
    "Device",
    "Organization",
)


def address_params(prefix: str = "address") -> list[SearchParam]:
    """``address`` and its ``address-*`` parts (Patient, Practitioner, Person, ...)."""
    return [
        string("address", prefix, "Any part of an address"),
        string("address-city", f"{prefix}.city", "City in an address"),
        string("address-country", f"{prefix}.country", "Country in an address"),
        string("address-postalcode", f"{prefix}.postalCode", "Postal code in an address"),
        string("address-state", f"{prefix}.state", "State or province in an address"),
        token("address-use", f"{prefix}.use", "Use code of an address"),
    ]


def telecom_params(*, with_telecom: bool = True) -> list[SearchParam]:
    """``email``, ``phone`` and (optionally) ``telecom`` over a ``telecom`` ContactPoint list."""
    params = [
        token("email", "telecom[system=email]", "An email address"),
        token("phone", "telecom[system=phone]", "A phone number"),
    ]
    if with_telecom:
        params.append(token("telecom", "telecom", "Any kind of contact"))
    return params
