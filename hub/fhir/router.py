"""The generic FHIR REST router: a dozen routes over one store, for every registered type."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, Path, Request, Response

from hub.deps import MAX_OFFSET, CurrentActor, JsonBody, RowId, read_body, unit_of_work
from hub.errors import InvalidRequest, outcome_info
from hub.fhir.bundle import BundleProcessor
from hub.fhir.capability import capability_statement
from hub.fhir.conditional import conditional_create, conditional_delete, conditional_update
from hub.fhir.history import history
from hub.fhir.inbound import inbound_qualifier
from hub.fhir.repository import StoredResource, parse_if_match
from hub.fhir.responses import (
    FhirJsonResponse,
    fhir_response,
    history_bundle,
    outcome_response,
    resource_headers,
    search_bundle,
)
from hub.fhir.search.dates import DateFormatError, date_range
from hub.fhir.search.engine import run_search
from hub.fhir.search.params import parse_search
from hub.fhir.search_parameters import RESOURCE_DEFS, SUPPORTED_TYPES
from hub.fhir.store import FhirStore
from hub.settings import get_settings

ResourceType = Enum("ResourceType", {t: t for t in SUPPORTED_TYPES}, type=str)  # type: ignore[misc]
TypePath = Annotated[ResourceType, Path(description="FHIR resource type")]
IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9\-.]{1,64}$", description="Logical id")]
PreferHeader = Annotated[str | None, Header(alias="prefer")]
RESOURCE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/fhir+json": {
                "schema": {
                    "type": "object",
                    "required": ["resourceType"],
                    "properties": {"resourceType": {"type": "string"}},
                    "description": "A FHIR R4 resource (validated against its StructureDefinition)",
                }
            }
        },
    }
}
_SEARCH_PARAMETERS = {  # the type-independent ones; each type's own are in /fhir/metadata
    "_id": "Logical id(s), comma-separated",
    "_lastUpdated": "Date with prefix, e.g. ge2024-01-01",
    "_count": "Page size",
    "_offset": "Page start",
    "_sort": "Search parameter names, comma-separated, - for descending",
    "_total": "none, estimate or accurate",
    "_summary": "count to return only the total",
    "_elements": "Elements to return, comma-separated",
    "_include": "Type:parameter[:target] of resources to include",
    "_revinclude": "Type:parameter[:target] of resources referring to the matches",
}
SEARCH_PARAMETERS = {
    "parameters": [
        {"name": name, "in": "query", "schema": {"type": "string"}, "description": text}
        for name, text in _SEARCH_PARAMETERS.items()
    ]
}
FHIR_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/fhir+json": {"schema": {"type": "object"}}},
        "description": "A FHIR resource or Bundle",
    },
    400: outcome_response("OperationOutcome: invalid request or resource"),
    401: outcome_response("OperationOutcome: missing or invalid token"),
    403: outcome_response("OperationOutcome: refused by scope or compartment"),
    404: outcome_response("OperationOutcome: unknown type or id"),
}
WRITTEN: dict[int | str, dict[str, Any]] = {201: {**FHIR_RESPONSES[200], "description": "Created"}}
DELETED: dict[int | str, dict[str, Any]] = {204: {"description": "Deleted (or nothing to delete)"}}
router = APIRouter(
    prefix="/fhir",
    tags=["FHIR R4"],
    responses=FHIR_RESPONSES,
    default_response_class=FhirJsonResponse,
)


def _type(value: Any) -> str:
    return str(value.value if isinstance(value, Enum) else value)


def _prefers(prefer: str | None, key: str) -> str | None:
    for part in (prefer or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name.strip() == key:
            return value.strip().strip('"')
    return None


def _written(
    stored: StoredResource, status: int, prefer: str | None, alongside: Sequence[str] = ()
) -> Response:
    base = get_settings().fhir_base_url
    headers = resource_headers(stored, base)
    if alongside:  # what the services created with it, e.g. a referral's Task (RFC 8288)
        headers["Link"] = ", ".join(f'<{base}/{ref}>; rel="related"' for ref in alongside)
    wanted = _prefers(prefer, "return")
    if wanted == "minimal":
        return Response(status_code=status, headers=headers)
    if wanted == "OperationOutcome":
        return fhir_response(
            outcome_info(
                f"{stored.resource_type}/{stored.resource_id} version {stored.version_id} stored"
            ),
            status,
            headers,
        )
    return fhir_response(stored.json, status, headers)


def do_search(
    store: FhirStore,
    resource_type: str,
    params: list[tuple[str, str]],
    lenient: bool = False,
    page_base: str | None = None,
) -> bytes:
    settings = get_settings()
    request = parse_search(
        resource_type,
        params,
        RESOURCE_DEFS,
        default_count=settings.default_page_size,
        max_count=settings.max_page_size,
        lenient=lenient,
    )
    names = ",".join(sorted({k for k, _ in params}))
    result = run_search(store, request, names)
    base = settings.fhir_base_url
    return search_bundle(result, request, base, page_base or f"{base}/{resource_type}", params)


@router.get("/metadata", summary="CapabilityStatement (generated from the registry)")
def metadata() -> Response:
    return fhir_response(capability_statement(get_settings()))


@router.post("", summary="Process a batch or transaction Bundle", openapi_extra=RESOURCE_BODY)
@router.post("/", include_in_schema=False)  # clients joining "" onto the base URL send "/fhir/"
def post_bundle(actor: CurrentActor, body: JsonBody, prefer: PreferHeader = None) -> Response:
    body = inbound_qualifier(actor).bundle(body)  # a facility's local identifiers, namespaced
    with unit_of_work(actor) as store:
        processor = BundleProcessor(
            store,
            lambda t, q: _search_dict(store, t, q),
            max_entries=get_settings().max_bundle_entries,
            representation=_prefers(prefer, "return") != "minimal",
        )
        result = processor.process(body)
    return fhir_response(result)


def _search_dict(store: FhirStore, resource_type: str, query: list[tuple[str, str]]) -> Any:
    import orjson

    return orjson.loads(do_search(store, resource_type, query))


@router.get("/{resource_type}", summary="Search", openapi_extra=SEARCH_PARAMETERS)
def search(
    resource_type: TypePath, request: Request, actor: CurrentActor, prefer: PreferHeader = None
) -> Response:
    params = request.query_params.multi_items()
    with unit_of_work(actor) as store:
        body = do_search(
            store, _type(resource_type), params, lenient=_prefers(prefer, "handling") == "lenient"
        )
    return fhir_response(body)


@router.post("/{resource_type}/_search", summary="Search with form-encoded parameters")
async def search_post(
    resource_type: TypePath, request: Request, actor: CurrentActor, prefer: PreferHeader = None
) -> Response:
    form = (await read_body(request)).decode("utf-8", "replace")  # bounded like JSON bodies
    params = request.query_params.multi_items() + parse_qsl(form, keep_blank_values=True)
    from starlette.concurrency import run_in_threadpool

    def run() -> bytes:
        with unit_of_work(actor) as store:
            return do_search(
                store,
                _type(resource_type),
                params,
                lenient=_prefers(prefer, "handling") == "lenient",
            )

    return fhir_response(await run_in_threadpool(run))


@router.post(
    "/{resource_type}",
    summary="Create (conditional with If-None-Exist)",
    openapi_extra=RESOURCE_BODY,
    responses=WRITTEN,
)
def create(
    resource_type: TypePath,
    actor: CurrentActor,
    body: JsonBody,
    if_none_exist: Annotated[str | None, Header()] = None,
    prefer: PreferHeader = None,
) -> Response:
    rtype = _type(resource_type)
    _require_object(body)
    inbound = inbound_qualifier(actor)
    body = inbound.resource(rtype, body)
    if_none_exist = inbound.criteria(rtype, if_none_exist) if if_none_exist else None
    with unit_of_work(actor) as store:
        if if_none_exist:
            stored, created = conditional_create(store, rtype, body, if_none_exist)
        else:
            stored, created = store.create(rtype, body), True
        alongside = list(store.created_by_hooks)
    return _written(stored, 201 if created else 200, prefer, alongside)


@router.put(
    "/{resource_type}", summary="Conditional update", openapi_extra=RESOURCE_BODY, responses=WRITTEN
)
def update_conditional(
    resource_type: TypePath,
    request: Request,
    actor: CurrentActor,
    body: JsonBody,
    prefer: PreferHeader = None,
) -> Response:
    _require_object(body)
    rtype, inbound = _type(resource_type), inbound_qualifier(actor)
    query = inbound.query(rtype, request.query_params.multi_items())
    body = inbound.resource(rtype, body)
    with unit_of_work(actor) as store:
        stored, created = conditional_update(store, rtype, query, body)
    return _written(stored, 201 if created else 200, prefer)


@router.delete("/{resource_type}", summary="Conditional delete", responses=DELETED)
def delete_conditional(resource_type: TypePath, request: Request, actor: CurrentActor) -> Response:
    rtype = _type(resource_type)
    query = inbound_qualifier(actor).query(rtype, request.query_params.multi_items())
    with unit_of_work(actor) as store:
        conditional_delete(store, rtype, query)
    return Response(status_code=204)


@router.get("/{resource_type}/_history", summary="History of a type")
def type_history(
    resource_type: TypePath,
    actor: CurrentActor,
    _count: int = 50,
    _offset: int = 0,
    _since: str | None = None,
) -> Response:
    return _history(actor, _type(resource_type), None, _count, _offset, _since)


@router.get("/{resource_type}/{resource_id}", summary="Read")
def read(resource_type: TypePath, resource_id: IdPath, actor: CurrentActor) -> Response:
    with unit_of_work(actor) as store:
        stored = store.read(_type(resource_type), resource_id)
    return fhir_response(stored.json, 200, resource_headers(stored, get_settings().fhir_base_url))


@router.put(
    "/{resource_type}/{resource_id}",
    summary="Update (or create with this id)",
    openapi_extra=RESOURCE_BODY,
    responses=WRITTEN,
)
def update(
    resource_type: TypePath,
    resource_id: IdPath,
    actor: CurrentActor,
    body: JsonBody,
    if_match: Annotated[str | None, Header()] = None,
    prefer: PreferHeader = None,
) -> Response:
    _require_object(body)
    body = inbound_qualifier(actor).resource(_type(resource_type), body)
    with unit_of_work(actor) as store:
        stored, created = store.update(
            _type(resource_type), resource_id, body, if_match=parse_if_match(if_match)
        )
    return _written(stored, 201 if created else 200, prefer)


@router.delete("/{resource_type}/{resource_id}", summary="Delete", responses=DELETED)
def delete(resource_type: TypePath, resource_id: IdPath, actor: CurrentActor) -> Response:
    with unit_of_work(actor) as store:
        version = store.delete(_type(resource_type), resource_id)
    headers = {"ETag": f'W/"{version}"'} if version else None
    return Response(status_code=204, headers=headers)


@router.get("/{resource_type}/{resource_id}/_history", summary="History of a resource")
def instance_history(
    resource_type: TypePath,
    resource_id: IdPath,
    actor: CurrentActor,
    _count: int = 50,
    _offset: int = 0,
    _since: str | None = None,
) -> Response:
    return _history(actor, _type(resource_type), resource_id, _count, _offset, _since)


@router.get("/{resource_type}/{resource_id}/_history/{version_id}", summary="Version read")
def vread(
    resource_type: TypePath, resource_id: IdPath, version_id: RowId, actor: CurrentActor
) -> Response:
    with unit_of_work(actor) as store:
        stored = store.vread(_type(resource_type), resource_id, version_id)
    return fhir_response(stored.json, 200, resource_headers(stored, get_settings().fhir_base_url))


def _history(
    actor: Any,
    resource_type: str,
    resource_id: str | None,
    count: int,
    offset: int,
    since: str | None,
) -> Response:
    if not 0 <= count <= get_settings().max_page_size or not 0 <= offset <= MAX_OFFSET:
        raise InvalidRequest("_count or _offset is out of range", expression=["_count"])
    since_at: datetime | None = None
    if since:
        try:
            since_at = date_range(since)[0]
        except DateFormatError as exc:
            raise InvalidRequest(f"_since: {exc}", expression=["_since"]) from None
    with unit_of_work(actor) as store:
        entries, total = history(
            store, resource_type, resource_id, count=count, offset=offset, since=since_at
        )
        body = history_bundle(entries, total, get_settings().fhir_base_url)
    return fhir_response(body)


def _require_object(body: Any) -> None:
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object (a FHIR resource)")
