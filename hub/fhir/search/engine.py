"""Running a parsed search against the store: matches, totals, _include and _revinclude."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import false, func, select

from hub.auth.scopes import Interaction, allows
from hub.fhir import access
from hub.fhir.models import ReferenceIndex, ResourceRow
from hub.fhir.registry import ResourceDef
from hub.fhir.search.params import Include, SearchRequest
from hub.fhir.search.query import QueryContext, criterion_condition, sort_expression
from hub.fhir.search_parameters import RESOURCE_DEFS
from hub.fhir.system_reads import referring_rids

if TYPE_CHECKING:  # the store calls this module; it only names the store's type
    from hub.fhir.store import FhirStore
from hub.fhir.repository import SearchResult, StoredResource

MAX_INCLUDED = 1000


def query_context(store: FhirStore) -> QueryContext:
    return QueryContext(RESOURCE_DEFS, store.cipher, store.base_url, chained_visibility(store))


def search_conditions(store: FhirStore, request: SearchRequest) -> list[Any]:
    """The WHERE of ``request`` as the store's caller may run it: its criteria, the type, not
    deleted, and what the caller may see (compartment, facility, consent)."""
    resource_type = request.resource_type
    definition = store.definition(resource_type)
    ctx = query_context(store)
    conds: list[Any] = [
        ResourceRow.resource_type == resource_type,
        ResourceRow.deleted == false(),
    ]
    conds.extend(criterion_condition(resource_type, c, ctx) for c in request.criteria)
    return visible_only(store, resource_type, definition, conds)


def chained_visibility(store: FhirStore) -> Callable[[str, ResourceDef, list[Any]], list[Any]]:
    """What a chained condition may test of its target type: only what the caller could search
    there itself (scopes, compartment, consent), so a total never reveals what a read refuses."""

    def visible(target_type: str, definition: ResourceDef, conds: list[Any]) -> list[Any]:
        access.require(store.actor, target_type, Interaction.search)
        return visible_only(store, target_type, definition, conds, nested=True)

    return visible


def visible_only(
    store: FhirStore,
    resource_type: str,
    definition: ResourceDef,
    conds: list[Any],
    *,
    nested: bool = False,
) -> list[Any]:
    """``conds`` plus what the caller may see: its patient compartment, then the consent filter
    (which reads the conditions before it, to find the patients they reach). ``nested``: the
    conditions of a chain's target, inside the outer search's own SQL."""
    restriction = access.compartment_condition(store.actor, resource_type, definition)
    if restriction is not None:
        conds.append(restriction)
    held = access.facility_condition(store.actor, resource_type)
    if held is not None:
        conds.append(held)
    consented = store.guard.search_condition(resource_type, definition, conds, nested=nested)
    if consented is not None:
        conds.append(consented)
    return conds


def run_search(store: FhirStore, request: SearchRequest, query_names: str = "") -> SearchResult:
    resource_type = request.resource_type
    definition = store.definition(resource_type)
    access.require(store.actor, resource_type, Interaction.search)
    conds = search_conditions(store, request)
    result = SearchResult()
    page_end: int | None = None  # offset + matches, when this page holds the last match
    if not request.summary_count and request.count > 0:
        order = [
            sort_expression(resource_type, definition, name, desc) for name, desc in request.sort
        ]
        stmt = (
            select(ResourceRow)
            .where(*conds)
            .order_by(*order, ResourceRow.rid)
            .offset(request.offset)
            .limit(request.count + 1)  # one more tells whether a next page exists
        )
        rows = store.session.execute(stmt).scalars().all()
        result.more = len(rows) > request.count
        rows = rows[: request.count]
        # The query already left out what consent denies; screening applies redactions and
        # re-checks each row exactly (see consent.enforcement).
        result.matches = store.guard.screen_all(
            [store.to_stored(r, r.version_id) for r in rows], RESOURCE_DEFS
        )
        result.included = _includes(store, request, result.matches)
        if not result.more and (rows or request.offset == 0):
            page_end = request.offset + len(rows)
    if request.total != "none" or request.summary_count:
        # A page that ends the result set already tells the total: no second query for it.
        result.total = (
            page_end
            if page_end is not None
            else store.session.execute(
                select(func.count()).select_from(ResourceRow).where(*conds)
            ).scalar_one()
        )
    _audit(store, request, result, query_names)
    return result


def _audit(store: FhirStore, request: SearchRequest, result: SearchResult, names: str) -> None:
    patients: list[str] = []
    for item in [*result.matches, *result.included]:
        definition = RESOURCE_DEFS[item.resource_type]
        patients.extend(access.patients_of(item.as_dict(), definition, store.base_url))
    resources = [f"{r.resource_type}/{r.resource_id}" for r in [*result.matches, *result.included]]
    store.audit("search-type", request.resource_type, resources, patients, names)


def _visible_rows(store: FhirStore, resource_type: str, *conds: Any) -> list[StoredResource]:
    definition = RESOURCE_DEFS.get(resource_type)
    if definition is None or not allows(store.actor.scopes, resource_type, Interaction.read):
        return []  # included resources the caller may not read are left out, not an error
    where = [ResourceRow.resource_type == resource_type, ResourceRow.deleted == false(), *conds]
    visible_only(store, resource_type, definition, where)
    rows = store.session.execute(select(ResourceRow).where(*where).limit(MAX_INCLUDED))
    return store.guard.screen_all(
        [store.to_stored(r, r.version_id) for r in rows.scalars()], RESOURCE_DEFS
    )


def _includes(
    store: FhirStore, request: SearchRequest, matches: list[StoredResource]
) -> list[StoredResource]:
    if not request.includes or not matches:
        return []
    seen = {(m.resource_type, m.resource_id) for m in matches}
    found: list[StoredResource] = []
    for include in request.includes:
        for item in _one_include(store, include, matches):
            key = (item.resource_type, item.resource_id)
            if key not in seen:
                seen.add(key)
                found.append(item)
    return found


def _one_include(
    store: FhirStore, include: Include, matches: list[StoredResource]
) -> list[StoredResource]:
    if include.reverse:
        ids = [m.resource_id for m in matches]
        target_type = matches[0].resource_type
        if include.target_type not in (None, target_type):
            return []  # e.g. _revinclude=Observation:subject:Group on a Patient search
        referring = referring_rids(include.source_type, [include.param], target_type, ids)
        return _visible_rows(store, include.source_type, ResourceRow.rid.in_(referring))
    rids = [m.rid for m in matches]
    refs = store.session.execute(
        select(ReferenceIndex.target_type, ReferenceIndex.target_id).where(
            ReferenceIndex.rid.in_(rids), ReferenceIndex.param == include.param
        )
    ).all()
    by_type: dict[str, set[str]] = {}
    for ref_type, ref_id in refs:
        if ref_type and (include.target_type is None or ref_type == include.target_type):
            by_type.setdefault(ref_type, set()).add(ref_id)
    found: list[StoredResource] = []
    for kind, target_ids in by_type.items():
        found.extend(_visible_rows(store, kind, ResourceRow.resource_id.in_(sorted(target_ids))))
    return found
