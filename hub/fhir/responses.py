"""Rendering of FHIR responses: single resources with ETag headers, search and history Bundles.

Search Bundles are assembled from the stored JSON bytes without re-parsing each resource.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import Response
from fastapi.responses import JSONResponse

from hub.fhir.repository import HistoryEntry, SearchResult, StoredResource
from hub.fhir.search.params import SearchRequest

FHIR_JSON = "application/fhir+json"
ALWAYS_KEPT = {"resourceType", "id", "meta"}
OPERATION_OUTCOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"const": "OperationOutcome"},
        "issue": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {
                    "severity": {"enum": ["fatal", "error", "warning", "information"]},
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                    "expression": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


class FhirJsonResponse(JSONResponse):
    """Declares a route's body as JSON of type ``application/fhir+json`` in the OpenAPI document."""

    media_type = FHIR_JSON


def outcome_response(description: str) -> dict[str, Any]:
    """An OpenAPI response entry whose body is an OperationOutcome (see ``hub.app``)."""
    content = {FHIR_JSON: {"schema": OPERATION_OUTCOME_SCHEMA}}
    return {"description": description, "content": content}


def fhir_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(content=content, status_code=status, media_type=FHIR_JSON, headers=headers)


def resource_headers(stored: StoredResource, base_url: str) -> dict[str, str]:
    return {
        "ETag": stored.etag,
        "Last-Modified": format_datetime(stored.last_updated.astimezone(UTC), usegmt=True),
        "Location": f"{base_url}/{stored.resource_type}/{stored.resource_id}"
        f"/_history/{stored.version_id}",
    }


def subset(resource_json: bytes, elements: tuple[str, ...]) -> bytes:
    data = orjson.loads(resource_json)
    kept = {k: v for k, v in data.items() if k in ALWAYS_KEPT or k in elements}
    meta = dict(kept.get("meta") or {})
    meta["tag"] = [
        *meta.get("tag", []),
        {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
            "code": "SUBSETTED",
        },
    ]
    kept["meta"] = meta
    return orjson.dumps(kept)


def _page_url(page_base: str, params: list[tuple[str, str]], offset: int, count: int) -> str:
    kept = [(k, v) for k, v in params if k not in ("_offset", "_count")]
    return f"{page_base}?{urlencode([*kept, ('_count', str(count)), ('_offset', str(offset))])}"


def search_bundle(
    result: SearchResult,
    request: SearchRequest,
    base_url: str,
    page_base: str,
    params: list[tuple[str, str]],
) -> bytes:
    # Links carry only the parameters the search used (not those ignored as lenient).
    params = [(k, v) for k, v in params if k not in request.ignored]
    links = [
        {"relation": "self", "url": _page_url(page_base, params, request.offset, request.count)}
    ]
    if result.more:
        links.append(
            {
                "relation": "next",
                "url": _page_url(page_base, params, request.offset + request.count, request.count),
            }
        )
    if request.offset > 0 and request.count:
        links.append(
            {
                "relation": "previous",
                "url": _page_url(
                    page_base, params, max(0, request.offset - request.count), request.count
                ),
            }
        )
    head: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": datetime.now(UTC).isoformat(timespec="milliseconds")},
        "type": "searchset",
    }
    if result.total is not None:
        head["total"] = result.total
    head["link"] = links
    entries = [_entry(m, base_url, b"match", request.elements) for m in result.matches]
    entries += [_entry(i, base_url, b"include", ()) for i in result.included]
    if not entries:
        return orjson.dumps(head)
    return orjson.dumps(head)[:-1] + b',"entry":[' + b",".join(entries) + b"]}"


def _entry(stored: StoredResource, base_url: str, mode: bytes, elements: tuple[str, ...]) -> bytes:
    body = subset(stored.json, elements) if elements else stored.json
    full_url = orjson.dumps(f"{base_url}/{stored.resource_type}/{stored.resource_id}")
    return (
        b'{"fullUrl":' + full_url + b',"resource":' + body + b',"search":{"mode":"' + mode + b'"}}'
    )


def history_bundle(entries: list[HistoryEntry], total: int, base_url: str) -> dict[str, Any]:
    items = []
    for e in entries:
        item: dict[str, Any] = {
            "fullUrl": f"{base_url}/{e.resource_type}/{e.resource_id}",
            "request": {
                "method": e.method,
                "url": e.resource_type
                if e.method == "POST"
                else f"{e.resource_type}/{e.resource_id}",
            },
            "response": {
                "status": {"POST": "201 Created", "PUT": "200 OK", "DELETE": "204 No Content"}.get(
                    e.method, "200 OK"
                ),
                "etag": f'W/"{e.version_id}"',
                "lastModified": e.last_updated.isoformat(),
            },
        }
        if e.resource is not None:
            item["resource"] = e.resource.as_dict()
        items.append(item)
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "history",
        "total": total,
        "entry": items,
    }
