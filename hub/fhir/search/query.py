"""Translation of a parsed search into SQL over the index tables (SQLite and PostgreSQL).

Every criterion becomes ``rid IN (SELECT rid FROM search_<kind> WHERE ...)``; criteria are
ANDed, the values inside one criterion ORed. Values are always bound parameters, never SQL text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, not_, or_, select, true

from hub.errors import InvalidRequest
from hub.fhir.models import (
    DateIndex,
    QuantityIndex,
    ReferenceIndex,
    ResourceRow,
    StringIndex,
    TokenIndex,
)
from hub.fhir.registry import ParamType, ResourceDef
from hub.fhir.search.dates import DateFormatError, date_range
from hub.fhir.search.extract import normalise_string, split_reference
from hub.fhir.search.params import Criterion, _criterion, split_prefix
from hub.security.fields import (
    PROTECTED_IDENTIFIER_SYSTEMS,
    FieldCipher,
    identifier_blind_index,
    phone_blind_index,
)

# What a caller may see of a resource type: (type, definition, conditions) -> the conditions
# with the caller's compartment and consent filter added (``engine.visible_only``).
Visibility = Callable[[str, ResourceDef, list[Any]], list[Any]]


@dataclass(frozen=True)
class QueryContext:
    definitions: dict[str, ResourceDef]
    cipher: FieldCipher
    base_url: str
    # Applied to every other resource a condition reaches (a chain's target): a search must
    # not be able to test what a read of that resource would refuse. None only where a query
    # merely pre-checks for emptiness (``conditional._nothing_matches``).
    visible: Visibility | None = None


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _in_index(
    table: Any, resource_type: str, param: str, *conds: ColumnElement[bool]
) -> ColumnElement[bool]:
    return ResourceRow.rid.in_(
        select(table.rid).where(table.resource_type == resource_type, table.param == param, *conds)
    )


TABLES: dict[ParamType, Any] = {
    ParamType.TOKEN: TokenIndex,
    ParamType.URI: TokenIndex,
    ParamType.STRING: StringIndex,
    ParamType.DATE: DateIndex,
    ParamType.REFERENCE: ReferenceIndex,
    ParamType.QUANTITY: QuantityIndex,
    ParamType.NUMBER: QuantityIndex,
}


def criterion_condition(
    resource_type: str, criterion: Criterion, ctx: QueryContext
) -> ColumnElement[bool]:
    param = criterion.param
    name = param.name
    if name in ("_id", "_lastUpdated"):
        return _resource_column_condition(criterion)
    if criterion.modifier == "missing":
        present = _in_index(TABLES[param.type], resource_type, name)
        return not_(present) if _wants_missing(criterion) else present
    if param.type in (ParamType.TOKEN, ParamType.URI):
        below = criterion.modifier == "below"
        matches = or_(*(_token_value(v, ctx, below=below) for v in criterion.values))
        inside = _in_index(TokenIndex, resource_type, name, matches)
        return not_(inside) if criterion.modifier == "not" else inside
    if param.type is ParamType.STRING:
        conds = [_string_value(v, criterion.modifier, name) for v in criterion.values]
        return _in_index(StringIndex, resource_type, name, or_(*conds))
    if param.type is ParamType.DATE:
        conds = [_date_value(v, name) for v in criterion.values]
        return _in_index(DateIndex, resource_type, name, or_(*conds))
    if param.type is ParamType.REFERENCE:
        return _reference_condition(resource_type, criterion, ctx)
    conds = [_quantity_value(v, name) for v in criterion.values]
    return _in_index(QuantityIndex, resource_type, name, or_(*conds))


def _wants_missing(criterion: Criterion) -> bool:
    value = criterion.values[0]
    if value not in ("true", "false"):
        name = criterion.param.name
        raise InvalidRequest(f"{name}:missing takes true or false", expression=[name])
    return value == "true"


def _resource_column_condition(criterion: Criterion) -> ColumnElement[bool]:
    """``_id`` and ``_lastUpdated``, answered from the resource table: every resource has both."""
    name = criterion.param.name
    if criterion.modifier == "missing":
        return false() if _wants_missing(criterion) else true()
    if name == "_id":
        matches = ResourceRow.resource_id.in_(list(criterion.values))
        return not_(matches) if criterion.modifier == "not" else matches
    return or_(*(_last_updated(v, name) for v in criterion.values))


def _token_candidates(code: str, system: str | None, ctx: QueryContext) -> list[str]:
    if system in PROTECTED_IDENTIFIER_SYSTEMS:
        return [identifier_blind_index(ctx.cipher, code)]
    candidates = [code]
    if system is None:  # may be a protected identifier or phone number stored blind
        candidates.append(identifier_blind_index(ctx.cipher, code))
        candidates.append(phone_blind_index(ctx.cipher, code))
    return candidates


def _token_value(value: str, ctx: QueryContext, *, below: bool = False) -> ColumnElement[bool]:
    if below:  # uri:below: the value and every URI under it
        return TokenIndex.code.like(_escape_like(value) + "%", escape="\\")
    if "|" not in value:
        return TokenIndex.code.in_(_token_candidates(value, None, ctx))
    system, _, code = value.partition("|")
    if system == "":  # no system: phone numbers are indexed blind, without one
        return and_(
            TokenIndex.system.is_(None), TokenIndex.code.in_(_token_candidates(code, None, ctx))
        )
    if code == "":
        return TokenIndex.system == system
    return and_(
        TokenIndex.system == system, TokenIndex.code.in_(_token_candidates(code, system, ctx))
    )


def _string_value(value: str, modifier: str | None, name: str) -> ColumnElement[bool]:
    if modifier == "exact":
        return StringIndex.value_exact == value
    norm = normalise_string(value)
    if not norm:  # blanks or lone accents would match every value
        raise InvalidRequest(f"{name}: the value has nothing to search for", expression=[name])
    norm = _escape_like(norm)
    pattern = f"%{norm}%" if modifier == "contains" else f"{norm}%"
    return StringIndex.value_norm.like(pattern, escape="\\")


def _search_range(raw: str, name: str) -> tuple[str, datetime, datetime]:
    prefix, text = split_prefix(raw)
    try:
        low, high = date_range(text)
    except DateFormatError as exc:
        raise InvalidRequest(f"{name}: {exc}", expression=[name]) from None
    return prefix, low, high


def _range_condition(
    prefix: str,
    low: Any,
    high: Any,
    s_low: datetime,
    s_high: datetime,
) -> ColumnElement[bool]:
    equal = and_(low >= s_low, high <= s_high)
    if prefix == "eq":
        return equal
    if prefix == "ne":
        return not_(equal)
    above: ColumnElement[bool] = high > s_high
    below: ColumnElement[bool] = low < s_low
    if prefix == "gt":
        return above
    if prefix == "lt":
        return below
    if prefix == "ge":
        return or_(above, equal)
    if prefix == "le":
        return or_(below, equal)
    if prefix == "sa":
        return and_(low >= s_high)
    if prefix == "eb":
        return and_(high <= s_low)
    # ap: overlap with the search range widened by 10% of its distance from now (at least a day)
    distance = abs(datetime.now(UTC) - s_low)
    slack = max(distance * 0.1, timedelta(days=1))
    return and_(low < s_high + slack, high > s_low - slack)


def _date_value(raw: str, name: str) -> ColumnElement[bool]:
    prefix, s_low, s_high = _search_range(raw, name)
    return _range_condition(prefix, DateIndex.low, DateIndex.high, s_low, s_high)


def _last_updated(raw: str, name: str) -> ColumnElement[bool]:
    prefix, s_low, s_high = _search_range(raw, name)
    return _instant_condition(prefix, ResourceRow.last_updated, s_low, s_high)


def _instant_condition(
    prefix: str, at: Any, s_low: datetime, s_high: datetime
) -> ColumnElement[bool]:
    inside = and_(at >= s_low, at < s_high)
    table: dict[str, ColumnElement[bool]] = {
        "eq": inside,
        "ne": not_(inside),
        "gt": at >= s_high,
        "sa": at >= s_high,
        "lt": at < s_low,
        "eb": at < s_low,
        "ge": at >= s_low,
        "le": at < s_high,
    }
    if prefix in table:
        return table[prefix]
    slack = max(abs(datetime.now(UTC) - s_low) * 0.1, timedelta(days=1))
    return and_(at >= s_low - slack, at < s_high + slack)


def _quantity_value(raw: str, name: str) -> ColumnElement[bool]:
    prefix, text = split_prefix(raw)
    number_text, _, unit_part = text.partition("|")
    try:
        number = Decimal(number_text)
    except InvalidOperation:
        raise InvalidRequest(
            f"{name}: {number_text[:30]!r} is not a number", expression=[name]
        ) from None
    if not number.is_finite():
        raise InvalidRequest(
            f"{name}: {number_text[:30]!r} is not a finite number", expression=[name]
        )
    exponent = number.as_tuple().exponent
    half = Decimal(5) * Decimal(10) ** (Decimal(exponent) - 1) if isinstance(exponent, int) else 0
    low, high, value = float(number - half), float(number + half), float(number)
    col = QuantityIndex.value
    conds = {
        "eq": and_(col >= low, col < high),
        "ne": or_(col < low, col >= high),
        "gt": col > value,
        "lt": col < value,
        "ge": col >= value,
        "le": col <= value,
        "sa": col > value,
        "eb": col < value,
        "ap": and_(col >= value - abs(value) * 0.1, col <= value + abs(value) * 0.1),
    }
    cond = conds[prefix]
    if unit_part:
        system, _, code = unit_part.partition("|") if "|" in unit_part else ("", "", unit_part)
        if system:
            cond = and_(cond, QuantityIndex.system == system)
        if code:
            cond = and_(cond, QuantityIndex.code == code)
    return cond


def _reference_condition(
    resource_type: str, criterion: Criterion, ctx: QueryContext
) -> ColumnElement[bool]:
    param = criterion.param
    if criterion.chain is not None:
        assert criterion.target_type is not None
        inner = _chained_ids(criterion.target_type, criterion.chain, criterion.values, ctx)
        return _in_index(
            ReferenceIndex,
            resource_type,
            param.name,
            ReferenceIndex.target_type == criterion.target_type,
            ReferenceIndex.target_id.in_(inner),
        )
    conds = []
    for value in criterion.values:
        target_type, target_id = split_reference(value, ctx.base_url)
        if "/" not in value:
            target_type = criterion.target_type or (
                param.targets[0] if len(param.targets) == 1 else None
            )
        cond = ReferenceIndex.target_id == target_id
        if target_type is not None:
            cond = and_(cond, ReferenceIndex.target_type == target_type)
        conds.append(cond)
    return _in_index(ReferenceIndex, resource_type, param.name, or_(*conds))


def _chained_ids(target_type: str, chain: str, values: tuple[str, ...], ctx: QueryContext) -> Any:
    definition = ctx.definitions.get(target_type)
    if definition is None:
        raise InvalidRequest(f"cannot chain into unsupported type {target_type}")
    name, _, rest = chain.partition(".")
    key = name + ("." + rest if rest else "")
    pname = name.partition(":")[0]
    param = definition.params.get(pname)
    if param is None:
        raise InvalidRequest(
            f"unknown chained parameter {pname!r} on {target_type}", expression=[chain]
        )
    inner = _criterion(
        param,
        name.partition(":")[2],
        ",".join(v.replace(",", "\\,") for v in values),
        ctx.definitions,
        key,
    )
    conds: list[Any] = [
        ResourceRow.resource_type == target_type,
        ResourceRow.deleted == false(),
        criterion_condition(target_type, inner, ctx),
    ]
    if ctx.visible is not None:
        conds = ctx.visible(target_type, definition, conds)
    return select(ResourceRow.resource_id).where(*conds)


def sort_expression(resource_type: str, definition: ResourceDef, name: str, desc: bool) -> Any:
    if name == "_id":
        column: Any = ResourceRow.resource_id
    elif name == "_lastUpdated":
        column = ResourceRow.last_updated
    else:
        param = definition.params[name]
        table = TABLES[param.type]
        value_col = {
            StringIndex: StringIndex.value_norm,
            TokenIndex: TokenIndex.code,
            QuantityIndex: QuantityIndex.value,
            ReferenceIndex: ReferenceIndex.target_id,
        }.get(table)
        if table is DateIndex:
            value_col = DateIndex.high if desc else DateIndex.low
        agg = func.max(value_col) if desc else func.min(value_col)
        column = (
            select(agg)
            .where(table.rid == ResourceRow.rid, table.param == name)
            .correlate(ResourceRow)
            .scalar_subquery()
        )
    # Resources without a value come last either way, on SQLite and PostgreSQL alike.
    return (column.desc() if desc else column.asc()).nulls_last()


def base_query(resource_type: str) -> Select[Any]:
    return select(ResourceRow.rid).where(
        ResourceRow.resource_type == resource_type, ResourceRow.deleted == false()
    )


def always_true() -> ColumnElement[bool]:
    return true()
