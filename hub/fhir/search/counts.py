"""Counts of one resource type in one statement, as ``_summary=count`` searches would answer
each: for the console's figures, where one search per figure (a day, a status) cost a scan
each, or every resource loaded to add up a few of its values (``tally``).

The statement is a search's own WHERE (criteria, type, not deleted, then the caller's
compartment, facility and consent conditions, ``engine.search_conditions``) with one
``count(*) FILTER (WHERE ...)`` per figure, each figure's criteria compiled as a search's. So
each figure is the count the search ``query + each[key]`` would give the same caller: the
consent condition only narrows rows, and what it keeps of the broader rows is what it keeps of
each figure's. ``tally`` groups the same WHERE by the values of index rows (a LEFT JOIN per
parameter). Either is audited as one search of the type.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import BigInteger, and_, cast, func, outerjoin, select, true
from sqlalchemy.orm import aliased

from hub.auth.scopes import Interaction
from hub.errors import InvalidRequest
from hub.fhir import access
from hub.fhir.models import QuantityIndex, ResourceRow
from hub.fhir.registry import ParamType, SearchParam
from hub.fhir.search.engine import query_context, search_conditions
from hub.fhir.search.params import SearchRequest
from hub.fhir.search.query import TABLES, criterion_condition

if TYPE_CHECKING:  # the store calls this module; it only names the store's type
    from hub.fhir.store import FhirStore

Key = TypeVar("Key", bound=Hashable)


def count_each(
    store: FhirStore, request: SearchRequest, each: Mapping[Key, SearchRequest], names: str
) -> dict[Key, int]:
    """For each key, how many resources match ``request`` and ``each[key]``'s criteria."""
    resource_type = request.resource_type
    access.require(store.actor, resource_type, Interaction.search)
    if not each:
        return {}
    conds = search_conditions(store, request)
    ctx = query_context(store)
    # Each distinct criterion once, as a column of the matching rows (OFFSET 0 keeps the
    # database from folding it back into every figure: one hash of a status's rows, not one
    # per day), and the figures as counts over those columns.
    tested = {c: i for i, c in enumerate({c: None for f in each.values() for c in f.criteria})}
    rows = (
        select(ResourceRow.rid, *(criterion_condition(resource_type, c, ctx).label(f"c{i}")
                                  for c, i in tested.items()))
        .where(*conds)
        .offset(0)
        .subquery()
    )  # fmt: skip
    figures = [
        func.count().filter(and_(true(), *(rows.c[f"c{tested[c]}"] for c in figure.criteria)))
        for figure in each.values()
    ]
    counted = store.session.execute(select(*figures).select_from(rows)).one()
    store.audit("search-type", resource_type, [], [], names)
    return {key: int(n) for key, n in zip(each, counted, strict=True)}


GroupKey = str | datetime | None


@dataclass(frozen=True)
class Tally:
    """One group of a :func:`tally`: its values of the ``by`` parameters (a token's code, a
    reference's id, a date's start; None for a resource without one), how many resources, and
    per ``sums`` parameter the sum of its values in hundredths (each rounded, so exact)."""

    keys: tuple[GroupKey, ...]
    count: int
    hundredths: tuple[int, ...]


def _group_column(table: Any, param: SearchParam) -> Any:
    if param.type is ParamType.REFERENCE:
        return table.target_id
    if param.type is ParamType.DATE:
        return table.low
    if param.type in (ParamType.TOKEN, ParamType.URI):
        return table.code
    raise InvalidRequest(f"cannot group by {param.name}", expression=[param.name])


def tally(
    store: FhirStore,
    request: SearchRequest,
    by: Sequence[str],
    sums: Sequence[str],
    names: str,
) -> list[Tally]:
    """The resources matching ``request`` grouped by the values of ``by``: as one search per
    combination of values would count them (a resource with two values counts under each)."""
    resource_type = request.resource_type
    access.require(store.actor, resource_type, Interaction.search)
    params = store.definition(resource_type).params
    conds = search_conditions(store, request)
    keys: list[Any] = []
    totals: list[Any] = []
    joined: Any = ResourceRow.__table__
    for name in [*by, *sums]:
        param = params.get(name)
        if param is None:
            raise InvalidRequest(f"unknown parameter {name}", expression=[name])
        table = aliased(QuantityIndex if name in sums else TABLES[param.type])
        joined = outerjoin(
            joined,
            table,
            and_(table.rid == ResourceRow.rid, table.resource_type == resource_type,
                 table.param == name),
        )  # fmt: skip
        if name in sums:
            cents = cast(func.round(table.value * 100), BigInteger)
            totals.append(func.coalesce(func.sum(cents), 0))
        else:
            keys.append(_group_column(table, param))
    stmt = select(*keys, func.count(), *totals).select_from(joined).where(*conds).group_by(*keys)
    rows = store.session.execute(stmt).all()
    store.audit("search-type", resource_type, [], [], names)
    width = len(keys)
    return [
        Tally(tuple(row[:width]), int(row[width]), tuple(int(s) for s in row[width + 1 :]))
        for row in rows
    ]
