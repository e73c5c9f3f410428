"""Subscription criteria (R4 ``Subscription.criteria``), evaluated against one written resource
in memory.

Supported: ``Type`` (every write of that type) and ``Type?param=value&...`` where each
parameter is ``_id``, or a token/uri or reference search parameter of the type in the hub's
registry. Values use search syntax: ``code``, ``system|code``, ``|code`` and ``system|`` for
tokens; ``Type/id`` (or ``id`` when the parameter has a single target type) for references;
a comma means OR, repeated parameters AND. Values are extracted with the search indexer
(``hub.fhir.search.extract``), so a resource matches exactly when the same search would find it.

Not supported (the subscription is refused by :func:`parse_criteria` and never notified):
modifiers (``:not``, ``:missing``, ``:exact``...), chained and reverse-chained parameters,
``_has``, date/number/quantity/string comparisons, and ``_lastUpdated``. Protected identifiers
(resident ID, phone) are indexed only by their blind index and never match a criteria value.
Only the resource being written is looked at: a criterion cannot depend on other resources.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from hub.fhir.registry import ParamType, ResourceDef
from hub.fhir.search.extract import extract_index, split_reference
from hub.fhir.search_parameters import get_resource_def
from hub.security.fields import FieldCipher

_SUPPORTED = (ParamType.TOKEN, ParamType.URI, ParamType.REFERENCE)


class CriteriaError(ValueError):
    """The criteria string uses something this evaluator does not support."""


@dataclass(frozen=True)
class Condition:
    param: str
    values: tuple[str, ...]  # any of them matches (comma-separated in the criteria)


@dataclass(frozen=True)
class Criteria:
    resource_type: str
    conditions: tuple[Condition, ...]


def parse_criteria(text: str) -> Criteria:
    """Parse and check ``Type`` or ``Type?param=value&...`` against the registry."""
    resource_type, _, query = text.strip().partition("?")
    definition = get_resource_def(resource_type)
    if definition is None:
        raise CriteriaError(f"criteria type {resource_type[:64]!r} is not a supported type")
    conditions: list[Condition] = []
    for name, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if ":" in name or "." in name or name.startswith("_has"):
            raise CriteriaError(f"criteria parameter {name[:64]!r}: no modifiers or chains")
        if name != "_id":
            param = definition.params.get(name)
            if param is None or param.type not in _SUPPORTED:
                raise CriteriaError(
                    f"criteria parameter {name[:64]!r}: only _id, token and reference "
                    f"parameters of {resource_type} are supported"
                )
        values = tuple(v for v in value.split(",") if v)
        if not values:
            raise CriteriaError(f"criteria parameter {name[:64]!r} has no value")
        conditions.append(Condition(name, values))
    return Criteria(resource_type, tuple(conditions))


def _token_matches(wanted: str, found: list[tuple[str | None, str]]) -> bool:
    if "|" not in wanted:
        return any(code == wanted for _, code in found)
    system, code = wanted.split("|", 1)
    if not code:
        return any(s == system for s, _ in found)
    return any(c == code and (s or "") == system for s, c in found)


def _reference_matches(
    wanted: str, targets: tuple[str, ...], found: list[tuple[str | None, str]]
) -> bool:
    kind, ident = split_reference(wanted)
    if kind is None and len(targets) == 1:
        kind = targets[0]
    return any(i == ident and (kind is None or t == kind) for t, i in found)


def matches(
    criteria: Criteria, resource: dict[str, Any], cipher: FieldCipher, base_url: str = ""
) -> bool:
    """True when ``resource`` meets every condition of ``criteria``."""
    if resource.get("resourceType") != criteria.resource_type:
        return False
    definition = get_resource_def(criteria.resource_type)
    assert definition is not None  # checked by parse_criteria
    for condition in criteria.conditions:
        if not _condition_matches(condition, definition, resource, cipher, base_url):
            return False
    return True


def _condition_matches(
    condition: Condition,
    definition: ResourceDef,
    resource: dict[str, Any],
    cipher: FieldCipher,
    base_url: str,
) -> bool:
    if condition.param == "_id":
        return str(resource.get("id")) in condition.values
    param = definition.params[condition.param]
    only = dataclasses.replace(definition, params={param.name: param})
    rows = extract_index(resource, only, cipher, base_url)
    if param.type is ParamType.REFERENCE:
        found = [(t, i) for _, t, i in rows.references]
        return any(_reference_matches(v, param.targets, found) for v in condition.values)
    tokens = [(s, c) for _, s, c in rows.tokens]
    return any(_token_matches(v, tokens) for v in condition.values)
