"""Conditional create, update and delete, written once on top of search."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from sqlalchemy import false, select

from hub.auth.scopes import Interaction
from hub.errors import InvalidRequest, PreconditionFailed
from hub.fhir import access
from hub.fhir.models import ResourceRow
from hub.fhir.repository import StoredResource
from hub.fhir.search.engine import run_search
from hub.fhir.search.params import SearchRequest, parse_search
from hub.fhir.search.query import QueryContext, criterion_condition
from hub.fhir.search_parameters import RESOURCE_DEFS

if TYPE_CHECKING:  # the store calls this module; it only names the store's type
    from hub.fhir.store import FhirStore

MAX_CONDITIONAL_MATCHES = 2


def matching(
    store: FhirStore, resource_type: str, query: str | list[tuple[str, str]]
) -> list[StoredResource]:
    store.definition(resource_type)  # an unknown type is a 404, before any search
    if isinstance(query, str):  # "identifier=x", or as some clients send it "Patient?identifier=x"
        head, separator, tail = query.partition("?")
        query = tail if separator and head in ("", resource_type) else query
    pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else query
    if not pairs:
        raise InvalidRequest("a conditional operation needs search criteria")
    request = parse_search(resource_type, pairs, RESOURCE_DEFS, default_count=2, max_count=2)
    request.count, request.total, request.includes = MAX_CONDITIONAL_MATCHES, "none", []
    if _nothing_matches(store, request):
        # What run_search would have done for an empty result: its checks and its audit entry.
        store.audit("search-type", resource_type, [], [], "")
        return []
    return run_search(store, request).matches


def _nothing_matches(store: FhirStore, request: SearchRequest) -> bool:
    """Whether no row meets the criteria at all, before access and consent conditions.

    Those conditions only ever leave rows out, so then the full search would find nothing
    either, and this one query spares it the consent filter's own query and SQL: the usual case
    of a conditional write that creates (an HL7 v2 message's new Encounter, Observations, ...).
    """
    resource_type = request.resource_type
    access.require(store.actor, resource_type, Interaction.search)
    ctx = QueryContext(RESOURCE_DEFS, store.cipher, store.base_url)
    conds = [
        ResourceRow.resource_type == resource_type,
        ResourceRow.deleted == false(),
        *(criterion_condition(resource_type, c, ctx) for c in request.criteria),
    ]
    return store.session.execute(select(ResourceRow.rid).where(*conds).limit(1)).first() is None


def conditional_create(
    store: FhirStore, resource_type: str, body: dict[str, Any], if_none_exist: str
) -> tuple[StoredResource, bool]:
    """Create unless the criteria match one resource (returned). Several matches: 412."""
    found = matching(store, resource_type, if_none_exist)
    if len(found) > 1:
        raise PreconditionFailed("If-None-Exist criteria match more than one resource")
    if found:
        return found[0], False
    return store.create(resource_type, body), True


def conditional_update(
    store: FhirStore, resource_type: str, query: list[tuple[str, str]], body: dict[str, Any]
) -> tuple[StoredResource, bool]:
    found = matching(store, resource_type, query)
    if len(found) > 1:
        raise PreconditionFailed("conditional update criteria match more than one resource")
    if not found:
        if body.get("id"):
            return store.update(resource_type, str(body["id"]), body)
        return store.create(resource_type, body), True
    target = found[0]
    if body.get("id") not in (None, target.resource_id):
        raise InvalidRequest("body id does not match the resource the criteria found")
    return store.update(resource_type, target.resource_id, dict(body, id=target.resource_id))


def conditional_delete(store: FhirStore, resource_type: str, query: list[tuple[str, str]]) -> int:
    found = matching(store, resource_type, query)
    if len(found) > 1:
        raise PreconditionFailed("conditional delete criteria match more than one resource")
    for item in found:
        store.delete(resource_type, item.resource_id)
    return len(found)
