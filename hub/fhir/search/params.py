"""Parsing of FHIR search query parameters into a typed request (no SQL here).

``name[:modifier]=value[,value...]``: a comma is OR, repeating the name is AND, ``\\,`` is a
literal comma. Chains (``subject:Patient.identifier=...``) keep the rest of the chain as text
and are parsed against the target type by the query builder.

What one search may ask is bounded here, before any SQL is built (the databases' query parsers
give out well before a URL does, and their planners slow down steeply): name=value pairs per
request, values per parameter and in all (settings ``max_search_parameters``,
``max_search_values``, ``max_search_values_total``), reference links per chain, and the
magnitude of numbers; beyond them the search is refused with 400 (``too-costly``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from hub.errors import InvalidRequest
from hub.fhir.registry import ParamType, ResourceDef, SearchParam
from hub.settings import get_settings

_NAME_END = re.compile(r"[:.]")
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
# Reference links in one chain: subject:Patient.organization.name has two. A third nests the
# subqueries deeper than SQLite's parser goes once consent filtering wraps them.
MAX_CHAIN_LINKS = 2
# Numbers are indexed as doubles; beyond about 1e308 a value has no double, and the decimal
# arithmetic of the precision range overflows.
MAX_NUMBER_EXPONENT = 308
RESULT_PARAMS = {
    "_count",
    "_offset",
    "_sort",
    "_include",
    "_revinclude",
    "_total",
    "_summary",
    "_elements",
    "_format",
    "_pretty",
    "_contained",
    "_containedType",
}
MODIFIERS: dict[ParamType, set[str]] = {
    ParamType.TOKEN: {"not", "missing"},
    ParamType.URI: {"missing", "below"},
    ParamType.STRING: {"exact", "contains", "missing"},
    ParamType.DATE: {"missing"},
    ParamType.REFERENCE: {"missing"},
    ParamType.QUANTITY: {"missing"},
    ParamType.NUMBER: {"missing"},
}


@dataclass(frozen=True)
class Criterion:
    """One ``name=values`` occurrence: its values are ORed."""

    param: SearchParam
    modifier: str | None
    values: tuple[str, ...]
    chain: str | None = None  # e.g. "identifier" for subject:Patient.identifier
    target_type: str | None = None  # from a type modifier (subject:Patient)


@dataclass(frozen=True)
class Include:
    source_type: str
    param: str
    target_type: str | None
    reverse: bool


@dataclass(frozen=True)
class SearchLimits:
    """How much one search may ask for (from the settings by default)."""

    parameters: int  # name=value pairs in one search
    values: int  # comma-separated values of one parameter
    total_values: int  # values of all its parameters together

    @classmethod
    def from_settings(cls) -> SearchLimits:
        settings = get_settings()
        return cls(
            settings.max_search_parameters,
            settings.max_search_values,
            settings.max_search_values_total,
        )


def too_costly(message: str, name: str | None = None) -> InvalidRequest:
    """A search beyond one of the limits above: 400, issue code ``too-costly``."""
    return InvalidRequest(message, expression=[name] if name else None, code="too-costly")


@dataclass
class SearchRequest:
    resource_type: str
    criteria: list[Criterion] = field(default_factory=list)
    count: int = 50
    offset: int = 0
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (param, descending)
    includes: list[Include] = field(default_factory=list)
    total: str = "accurate"  # none | estimate | accurate
    summary_count: bool = False
    elements: tuple[str, ...] = ()
    # Parameters left out under ``Prefer: handling=lenient``; page links omit them.
    ignored: list[str] = field(default_factory=list)


def split_or_values(raw: str) -> tuple[str, ...]:
    values: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in raw:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            values.append("".join(current))
            current = []
        else:
            current.append(ch)
    values.append("".join(current))
    return tuple(v for v in values if v != "")


def int_param(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(
            f"{name} must be an integer, got {raw[:20]!r}", expression=[name]
        ) from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be between {low} and {high}", expression=[name])
    return value


def _parse_include(
    name: str, raw: str, definitions: dict[str, ResourceDef], resource_type: str
) -> Include:
    value = raw.removesuffix(":iterate") if raw.endswith(":iterate") else raw
    parts = value.split(":")
    reverse = name == "_revinclude"
    if len(parts) not in (2, 3) or parts[0] not in definitions:
        raise InvalidRequest(
            f"{name} value {raw[:60]!r} must be Type:param[:Target]", expression=[name]
        )
    source = definitions[parts[0]]
    param = source.params.get(parts[1])
    if param is None or param.type is not ParamType.REFERENCE:
        raise InvalidRequest(
            f"{name}: {parts[0]} has no reference parameter {parts[1]!r}", expression=[name]
        )
    target = parts[2] if len(parts) == 3 else None
    if target is not None and param.targets and target not in param.targets:
        raise InvalidRequest(
            f"{name}: {parts[0]}:{parts[1]} cannot refer to {target[:64]!r}", expression=[name]
        )
    if not reverse and parts[0] != resource_type:
        raise InvalidRequest(
            f"_include must start with the searched type {resource_type}", expression=[name]
        )
    return Include(parts[0], parts[1], target, reverse)


def parse_search(
    resource_type: str,
    query: list[tuple[str, str]],
    definitions: dict[str, ResourceDef],
    *,
    default_count: int,
    max_count: int,
    lenient: bool = False,
    limits: SearchLimits | None = None,
) -> SearchRequest:
    """The typed search of ``query``; ``limits`` default to the deployment's settings."""
    limits = limits or SearchLimits.from_settings()
    if len(query) > limits.parameters:
        raise too_costly(
            f"a search takes at most {limits.parameters} parameters, this one has {len(query)}"
        )
    definition = definitions[resource_type]
    request = SearchRequest(resource_type, count=default_count)
    for key, raw in query:
        # The parameter name ends at the first ':' (modifier) or '.' (chain).
        name = _NAME_END.split(key, maxsplit=1)[0]
        modifier_text = key[len(name) + 1 :] if key[len(name) : len(name) + 1] == ":" else ""
        if name in RESULT_PARAMS:
            _apply_result_param(request, name, raw, definitions, max_count, limits.values)
            continue
        param = definition.params.get(name)
        if param is None:
            if lenient:
                request.ignored.append(key)
                continue
            raise InvalidRequest(
                f"unknown search parameter {name!r} for {resource_type}", expression=[name]
            )
        request.criteria.append(
            _criterion(param, modifier_text, raw, definitions, key, limits.values)
        )
    total = sum(len(criterion.values) for criterion in request.criteria)
    if total > limits.total_values:
        raise too_costly(
            f"a search takes at most {limits.total_values} values in all, this one has {total}"
        )
    return request


def _criterion(
    param: SearchParam,
    modifier_text: str,
    raw: str,
    definitions: dict[str, ResourceDef],
    key: str,
    max_values: int | None = None,
) -> Criterion:
    modifier: str | None = modifier_text or None
    chain: str | None = None
    target_type: str | None = None
    if "." in key and param.type is not ParamType.REFERENCE:
        raise InvalidRequest(
            f"{param.name} is not a reference parameter and cannot be chained", expression=[key]
        )
    if key.count(".") > MAX_CHAIN_LINKS:
        raise too_costly(f"a chain has at most {MAX_CHAIN_LINKS} reference links", key)
    if "." in key:
        head, _, chain = key.partition(".")
        _, _, modifier = head.partition(":")
        modifier = modifier or None
    if param.type is ParamType.REFERENCE and modifier and modifier in definitions:
        target_type, modifier = modifier, None
        if param.targets and target_type not in param.targets:
            raise InvalidRequest(f"{param.name} cannot refer to {target_type}", expression=[key])
    if modifier is not None and modifier not in MODIFIERS[param.type]:
        raise InvalidRequest(
            f"modifier :{modifier} is not supported on {param.name}", expression=[key]
        )
    values = split_or_values(raw)
    _at_most(values, key, max_values)
    if not values:
        raise InvalidRequest(f"search parameter {param.name} has an empty value", expression=[key])
    if param.type in (ParamType.QUANTITY, ParamType.NUMBER) and modifier is None:
        for value in values:
            _check_magnitude(value, key)
    if chain is not None and target_type is None:
        targets = [t for t in param.targets if t in definitions]
        if len(targets) != 1:
            raise InvalidRequest(
                f"chained {param.name} needs a type modifier ({param.name}:Type.{chain})",
                expression=[key],
            )
        target_type = targets[0]
    return Criterion(param, modifier, values, chain, target_type)


def _at_most(values: list[str] | tuple[str, ...], key: str, limit: int | None) -> None:
    """Refuse more than ``limit`` comma-separated values (None: the settings' limit)."""
    limit = limit or get_settings().max_search_values
    if len(values) > limit:
        raise too_costly(
            f"a search parameter takes at most {limit} comma-separated values, "
            f"{key[:64]} has {len(values)}",
            key,
        )


def _check_magnitude(value: str, key: str) -> None:
    """Refuse numbers no double can hold; the query builder reports malformed ones."""
    number_text = split_prefix(value)[1].partition("|")[0]
    try:
        number = Decimal(number_text)
    except InvalidOperation:
        return
    if number.is_finite() and number.adjusted() > MAX_NUMBER_EXPONENT:
        raise InvalidRequest(
            f"{key[:64]}: {number_text[:30]!r} is out of range (at most 1e{MAX_NUMBER_EXPONENT})",
            expression=[key],
        )


def _apply_result_param(
    request: SearchRequest,
    name: str,
    raw: str,
    definitions: dict[str, ResourceDef],
    max_count: int,
    max_values: int,
) -> None:
    if name == "_count":
        # _count is a hint: the server may return fewer than asked for, never more.
        request.count = min(int_param(name, raw, 0, 10_000_000), max_count)
    elif name == "_offset":
        request.offset = int_param(name, raw, 0, 10_000_000)
    elif name == "_sort":
        definition = definitions[request.resource_type]
        keys = raw.split(",")
        _at_most(keys, name, max_values)
        for item in keys:
            descending = item.startswith("-")
            pname = item.lstrip("-")
            if pname not in definition.params:
                raise InvalidRequest(
                    f"cannot sort by unknown parameter {pname!r}", expression=["_sort"]
                )
            if all(pname != sorted_by for sorted_by, _ in request.sort):  # later ones add nothing
                request.sort.append((pname, descending))
    elif name in ("_include", "_revinclude"):
        includes = split_or_values(raw)
        _at_most(includes, name, max_values)
        for item in includes:
            include = _parse_include(name, item, definitions, request.resource_type)
            if include not in request.includes:
                request.includes.append(include)
    elif name == "_total":
        if raw not in ("none", "estimate", "accurate"):
            raise InvalidRequest("_total must be none, estimate or accurate", expression=[name])
        request.total = raw
    elif name == "_summary":
        if raw not in ("count", "false", "true", "data", "text"):
            raise InvalidRequest(
                "_summary must be count, true, text, data or false", expression=[name]
            )
        request.summary_count = raw == "count"
    elif name == "_elements":
        elements = raw.split(",")
        _at_most(elements, name, max_values)
        request.elements = tuple(e.strip() for e in elements if e.strip())


def split_prefix(value: str) -> tuple[str, str]:
    if len(value) > 2 and value[:2] in PREFIXES and (value[2].isdigit() or value[2] == "-"):
        return value[:2], value[2:]
    return "eq", value
