"""Resource validation with fhir.resources.

The hub speaks FHIR R4 (4.0.1) on the wire. fhir.resources ships R4B models, which accept the R4
resources we serve (R4B changed a few elements of resources outside our registry and the
medication/subscription areas in ways that do not break R4 payloads; see README). We validate
with the R4B model and store the client's JSON as sent, never the model's re-serialisation, so an
R4 payload leaves the hub exactly as it came in (plus id and meta).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import BaseModel, ValidationError

from hub.errors import InvalidResource

MAX_REPORTED_ISSUES = 20

# Required bindings whose code list the models give only in part (their list ends in "+") or
# not at all, completed from the R4 value sets. Keyed by model class and field name.
_FULL_CODE_LISTS: dict[str, str] = {
    "DeviceUdiCarrier.entryType": "barcode | rfid | manual | card | self-reported | unknown",
    "DiagnosticReport.status": "registered | partial | preliminary | final | amended | corrected"
    " | appended | cancelled | entered-in-error | unknown",
    "Encounter.status": "planned | arrived | triaged | in-progress | onleave | finished"
    " | cancelled | entered-in-error | unknown",
    "EncounterStatusHistory.status": "planned | arrived | triaged | in-progress | onleave"
    " | finished | cancelled | entered-in-error | unknown",
    "Observation.status": "registered | preliminary | final | amended | corrected | cancelled"
    " | entered-in-error | unknown",
    "Quantity.comparator": "< | <= | >= | >",
    "Task.status": "draft | requested | received | accepted | rejected | ready | cancelled"
    " | in-progress | on-hold | failed | completed | entered-in-error",
}


@lru_cache(maxsize=256)
def _model_class(resource_type: str) -> Any:
    return get_fhir_model_class(resource_type)


def _location(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def validate_resource(resource_type: str, body: dict[str, Any]) -> None:
    """Raise InvalidResource (with one issue per problem) unless ``body`` is a valid resource."""
    try:
        model = _model_class(resource_type).model_validate(body)
    except ValidationError as exc:
        errors = exc.errors()
        issues: list[dict[str, Any]] = [
            {
                "severity": "error",
                "code": "invalid" if err.get("type") != "missing" else "required",
                "diagnostics": f"{_location(err['loc']) or resource_type}: {err['msg']}",
                "expression": [f"{resource_type}.{_location(err['loc'])}".rstrip(".")],
            }
            for err in errors[:MAX_REPORTED_ISSUES]
        ]
        first = issues[0]["diagnostics"] if issues else "invalid resource"
        raise InvalidResource(
            f"{resource_type} failed validation ({len(errors)} problem(s)): {first}",
            expression=issues[0]["expression"] if issues else None,
            issues=issues[1:],
        ) from None
    except (TypeError, ValueError) as exc:  # fhir_core raises these for some primitive errors
        raise InvalidResource(f"{resource_type} failed validation: {str(exc)[:300]}") from None
    problems = list(_json_problems(model, body, resource_type))
    if problems:
        issues = [
            {
                "severity": "error",
                "code": code,
                "diagnostics": f"{where}: {message}",
                "expression": [where],
            }
            for where, code, message in problems[:MAX_REPORTED_ISSUES]
        ]
        raise InvalidResource(
            f"{resource_type} failed validation ({len(problems)} problem(s)): "
            f"{issues[0]['diagnostics']}",
            expression=issues[0]["expression"],
            code=issues[0]["code"],
            issues=issues[1:],
        )


def _json_problems(
    model: BaseModel, raw: dict[str, Any], path: str
) -> Iterator[tuple[str, str, str]]:
    """(expression, issue code, message) for what the model accepted but FHIR R4 JSON forbids.

    The models coerce JSON types (``"yes"`` to true, ``"2"`` to 2) and leave required code
    bindings (``gender``, ``status``) unchecked; since the hub stores the client's JSON as sent,
    both are checked here against that JSON.
    """
    for name, field in type(model).model_fields.items():
        key = field.alias or name
        raw_value, value = raw.get(key), getattr(model, name, None)
        if raw_value is None or value is None:
            continue
        codes = _code_lists(type(model)).get(name)
        many = isinstance(raw_value, list)
        raw_items = raw_value if many else [raw_value]
        items = value if isinstance(value, list) else [value]
        if len(items) != len(raw_items):
            continue  # primitive lists with nulls: the model has already checked the items
        for index, (item, raw_item) in enumerate(zip(items, raw_items, strict=True)):
            where = f"{path}.{key}[{index}]" if many else f"{path}.{key}"
            if isinstance(item, BaseModel):
                if isinstance(raw_item, dict):
                    yield from _json_problems(item, raw_item, where)
            elif not _json_type_matches(item, raw_item):
                yield where, "structure", f"JSON {type(raw_item).__name__} is not allowed here"
            elif codes is not None and item not in codes:
                allowed = " | ".join(str(c) for c in codes)
                yield where, "code-invalid", f"{str(item)[:64]!r} is not one of {allowed}"


@lru_cache(maxsize=1024)
def _code_lists(model_type: type[BaseModel]) -> dict[str, tuple[str, ...]]:
    """The allowed codes of each required-binding field of a model, by field name."""
    lists: dict[str, tuple[str, ...]] = {}
    for name, field in model_type.model_fields.items():
        extra = field.json_schema_extra
        codes = extra.get("enum_values") if isinstance(extra, dict) else None
        if isinstance(codes, list) and "+" not in codes:  # "+": the list is only a start
            lists[name] = tuple(str(c) for c in codes)
        for cls in model_type.__mro__:
            full = _FULL_CODE_LISTS.get(f"{cls.__name__}.{name}")
            if full is not None:
                lists[name] = tuple(full.split(" | "))
                break
    return lists


def _json_type_matches(value: Any, raw: Any) -> bool:
    """Whether the JSON value ``raw`` has the JSON type of the primitive it was parsed into."""
    if isinstance(value, bool):
        return isinstance(raw, bool)
    if isinstance(value, int):
        return isinstance(raw, int) and not isinstance(raw, bool)
    if isinstance(value, float | Decimal):
        return isinstance(raw, int | float) and not isinstance(raw, bool)
    if isinstance(value, str | date | datetime | time | bytes):
        return isinstance(raw, str)
    return True
