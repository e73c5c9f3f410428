"""Batch and transaction Bundles (FHIR R4 http.html#transaction).

A transaction is all-or-nothing: it runs in the request's database transaction and any failed
entry raises, rolling everything back. Entries are processed in the order the spec fixes
(DELETE, POST, PUT/PATCH, GET) and answered in the order they came. ``urn:uuid:`` full URLs of
created resources are given ids first and every reference to them is rewritten before any write.
A batch runs each entry in a savepoint of its own and reports failures per entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from hub.audit.service import AuditEntry
from hub.errors import FhirError, InvalidRequest, PayloadTooLarge
from hub.fhir.conditional import conditional_delete, conditional_update, matching
from hub.fhir.repository import StoredResource, parse_if_match

if TYPE_CHECKING:  # the store calls this module; it only names the store's type
    from hub.fhir.store import FhirStore

ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
_PENDING = "hub_audit_pending"


@dataclass
class EntryResult:
    status: str
    resource: dict[str, Any] | None = None
    location: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    outcome: dict[str, Any] | None = None

    def as_entry(self, full_url: str | None, representation: bool) -> dict[str, Any]:
        response: dict[str, Any] = {"status": self.status}
        for key, value in (
            ("location", self.location),
            ("etag", self.etag),
            ("lastModified", self.last_modified),
            ("outcome", self.outcome),
        ):
            if value is not None:
                response[key] = value
        entry: dict[str, Any] = {"response": response}
        if full_url:
            entry["fullUrl"] = full_url
        if self.resource is not None and representation:
            entry["resource"] = self.resource
        return entry


def _written(stored: StoredResource, status: str) -> EntryResult:
    return EntryResult(
        status,
        stored.as_dict(),
        location=f"{stored.resource_type}/{stored.resource_id}/_history/{stored.version_id}",
        etag=stored.etag,
        last_modified=stored.last_updated.isoformat(),
    )


def _split_url(url: str) -> tuple[str, str | None, list[tuple[str, str]]]:
    path, _, query = url.lstrip("/").partition("?")
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise InvalidRequest(f"entry request url {url[:80]!r} names no resource type")
    resource_id = parts[1] if len(parts) > 1 else None
    return parts[0], resource_id, parse_qsl(query, keep_blank_values=True)


def check_bundle(bundle: Any, max_entries: int) -> tuple[str, list[dict[str, Any]]]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InvalidRequest("POST to the base URL takes a Bundle")
    kind = bundle.get("type")
    if kind not in ("batch", "transaction"):
        raise InvalidRequest("Bundle.type must be batch or transaction")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InvalidRequest("Bundle.entry must be a list of entries")
    if len(entries) > max_entries:
        raise PayloadTooLarge(f"Bundle has {len(entries)} entries; the limit is {max_entries}")
    for index, entry in enumerate(entries):
        request = entry.get("request")
        if not isinstance(request, dict) or request.get("method") not in ORDER:
            raise InvalidRequest(
                f"Bundle.entry[{index}].request needs a method and url",
                expression=[f"Bundle.entry[{index}].request"],
            )
        if not isinstance(request.get("url"), str):
            raise InvalidRequest(
                f"Bundle.entry[{index}].request.url is missing",
                expression=[f"Bundle.entry[{index}].request.url"],
            )
        if request["method"] in ("POST", "PUT") and not isinstance(entry.get("resource"), dict):
            raise InvalidRequest(
                f"Bundle.entry[{index}] has no resource to {request['method']}",
                expression=[f"Bundle.entry[{index}].resource"],
            )
    return kind, entries


def _reference_forms(full_url: str, resource_type: str) -> list[str]:
    """How the other entries may refer to an entry: its fullUrl, and ``Type/id`` if RESTful."""
    forms = [full_url]
    parts = full_url.rstrip("/").split("/")
    if (
        full_url.startswith(("http://", "https://"))
        and len(parts) > 4
        and parts[-2] == resource_type
    ):
        forms.append(f"{resource_type}/{parts[-1]}")
    return forms


def _rewrite_references(node: Any, mapping: dict[str, str], strict: bool) -> None:
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str) and ref in mapping:
            node["reference"] = mapping[ref]
        elif strict and isinstance(ref, str) and ref.startswith("urn:"):
            raise InvalidRequest(f"reference {ref[:80]} resolves to no entry of the transaction")
        for value in node.values():
            _rewrite_references(value, mapping, strict)
    elif isinstance(node, list):
        for item in node:
            _rewrite_references(item, mapping, strict)


def _written_targets(entries: list[dict[str, Any]], mapping: dict[str, str]) -> frozenset[str]:
    """``Type/id`` of every resource a transaction creates or updates: its entries count as
    existing for each other's references, whatever order they are written in."""
    targets = set(mapping.values())
    for entry in entries:
        method, url = entry["request"]["method"], entry["request"]["url"]
        if method not in ("POST", "PUT"):
            continue
        resource_type, resource_id, _ = _split_url(url)
        resource_id = entry.get("_assigned_id") or resource_id
        if resource_id:
            targets.add(f"{resource_type}/{resource_id}")
    return frozenset(targets)


class BundleProcessor:
    def __init__(
        self,
        store: FhirStore,
        search: Callable[[str, list[tuple[str, str]]], dict[str, Any]],
        *,
        max_entries: int,
        representation: bool = True,
    ) -> None:
        self.store = store
        self.search = search  # renders a searchset Bundle for GET entries
        self.max_entries = max_entries
        self.representation = representation

    def process(self, bundle: Any) -> dict[str, Any]:
        kind, entries = check_bundle(bundle, self.max_entries)
        if kind == "transaction":
            results = self._transaction(entries)
        else:
            results = [self._batch_entry(entry) for entry in entries]
        self.store.audit(kind, None, [], [])
        return {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "type": f"{kind}-response",
            "entry": [r.as_entry(None, self.representation) for r in results],
        }

    def _transaction(self, entries: list[dict[str, Any]]) -> list[EntryResult]:
        order = sorted(range(len(entries)), key=lambda i: ORDER[entries[i]["request"]["method"]])
        results: dict[int, EntryResult] = {}
        mapping: dict[str, str] = {}
        existing: dict[int, StoredResource] = {}
        for i in order:  # deletes first, then give every created resource its id
            entry = entries[i]
            method, url = entry["request"]["method"], entry["request"]["url"]
            if method == "DELETE":
                results[i] = self._run(entry, i)
            elif method == "POST":
                resource_type = _split_url(url)[0]
                condition = entry["request"].get("ifNoneExist")
                found = matching(self.store, resource_type, condition) if condition else []
                if len(found) > 1:
                    raise FhirError(
                        f"entry[{i}] ifNoneExist matches several resources",
                        status=412,
                        code="duplicate",
                    )
                new_id = found[0].resource_id if found else str(uuid.uuid4())
                if found:
                    existing[i] = found[0]
                full_url = entry.get("fullUrl")
                if isinstance(full_url, str):
                    for alias in _reference_forms(full_url, resource_type):
                        mapping[alias] = f"{resource_type}/{new_id}"
                entry["_assigned_id"] = new_id
            elif method == "PUT" and isinstance(entry.get("fullUrl"), str):
                resource_type, resource_id, query = _split_url(url)
                if resource_id is None and query:  # conditional: resolve the target now
                    resource_id = self._conditional_target(i, resource_type, query)
                    entry["_assigned_id"] = resource_id
                if resource_id:
                    for alias in _reference_forms(entry["fullUrl"], resource_type):
                        mapping[alias] = f"{resource_type}/{resource_id}"
        for entry in entries:
            if isinstance(entry.get("resource"), dict):
                _rewrite_references(entry["resource"], mapping, strict=True)
        self.store.bundle_targets = _written_targets(entries, mapping)
        try:
            for i in order:
                if i in results:
                    continue
                if i in existing:
                    results[i] = _written(existing[i], "200 OK")
                    continue
                try:
                    results[i] = self._run(entries[i], i)
                except FhirError as exc:
                    exc.diagnostics = f"transaction entry {i} failed: {exc.diagnostics}"
                    raise
        finally:
            self.store.bundle_targets = frozenset()
        return [results[i] for i in range(len(entries))]

    def _conditional_target(
        self, index: int, resource_type: str, query: list[tuple[str, str]]
    ) -> str:
        """The id a conditional PUT will write: the one match, or a new id when none."""
        found = matching(self.store, resource_type, query)
        if len(found) > 1:
            raise FhirError(
                f"entry[{index}] conditional update criteria match several resources",
                status=412,
                code="duplicate",
            )
        return found[0].resource_id if found else str(uuid.uuid4())

    def _batch_entry(self, entry: dict[str, Any]) -> EntryResult:
        pending: list[AuditEntry] = self.store.session.info.setdefault(_PENDING, [])
        mark = len(pending)
        savepoint = self.store.session.begin_nested()
        try:
            if isinstance(entry.get("resource"), dict):
                _rewrite_references(entry["resource"], {}, strict=False)
            result = self._run(entry, None)
            savepoint.commit()
            return result
        except FhirError as exc:
            savepoint.rollback()
            del pending[mark:]
            return EntryResult(f"{exc.status} {exc.code}", outcome=exc.outcome())

    def _run(self, entry: dict[str, Any], index: int | None) -> EntryResult:
        request = entry["request"]
        method, url = request["method"], request["url"]
        resource_type, resource_id, query = _split_url(url)
        store = self.store
        store.definition(resource_type)  # an unknown type is a 404 whatever the method
        if method == "POST":
            body = entry["resource"]
            assigned = entry.pop("_assigned_id", None)
            return _written(store.create(resource_type, body, resource_id=assigned), "201 Created")
        if method == "PUT":
            body = entry["resource"]
            assigned = entry.pop("_assigned_id", None)
            if resource_id is None and assigned is not None:
                if body.get("id") not in (None, assigned):
                    raise InvalidRequest("body id does not match the resource the criteria found")
                stored, created = store.update(resource_type, assigned, dict(body, id=assigned))
            elif resource_id is None:
                stored, created = conditional_update(store, resource_type, query, body)
            else:
                stored, created = store.update(
                    resource_type,
                    resource_id,
                    body,
                    if_match=parse_if_match(request.get("ifMatch")),
                )
            return _written(stored, "201 Created" if created else "200 OK")
        if method == "DELETE":
            if resource_id is None:
                conditional_delete(store, resource_type, query)
            else:
                store.delete(resource_type, resource_id)
            return EntryResult("204 No Content")
        if method in ("GET", "HEAD"):
            if resource_id is None:
                return EntryResult("200 OK", self.search(resource_type, query))
            return _written(store.read(resource_type, resource_id), "200 OK")
        raise InvalidRequest(f"method {method} is not supported in a Bundle")
