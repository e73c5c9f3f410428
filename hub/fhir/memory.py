"""An in-memory ``FhirRepository`` for the unit tests of services built on the store.

It keeps the store's contract where a service can observe it -- ids, versions and ``meta``,
If-Match (412), 404 unknown / 410 deleted, 409 on a taken id or a delete of a referenced
resource, 400 on a dangling local reference, history newest first, transactions all or none --
and searches with the registry's own parameters and index extraction (``_id``,
``_lastUpdated``, reference, token and string parameters; ``_count``/``_offset``; results in
write order). Not modelled: access decisions, consent, audit, write hooks, chains, ``_include``,
``_sort``. Lives in the package (not under tests/) so the services' own test suites, in every
package, import one implementation that the contract tests keep honest.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from hub.errors import Conflict, Gone, InvalidRequest, NotFound, PreconditionFailed, not_available
from hub.fhir.references import local_references
from hub.fhir.registry import ParamType
from hub.fhir.repository import HistoryEntry, Query, SearchResult, StoredResource
from hub.fhir.search.dates import date_range
from hub.fhir.search.extract import IndexRows, extract_index, normalise_string, split_reference
from hub.fhir.search.params import Criterion, SearchLimits, parse_search, split_prefix
from hub.fhir.search_parameters import RESOURCE_DEFS
from hub.fhir.validation import validate_resource
from hub.security.fields import (
    PROTECTED_IDENTIFIER_SYSTEMS,
    FieldCipher,
    identifier_blind_index,
    phone_blind_index,
)

_LIMITS = SearchLimits(parameters=50, values=100, total_values=500)


@dataclass
class _Version:
    version_id: int
    last_updated: datetime
    method: str
    body: dict[str, Any] | None  # None: a deletion


@dataclass
class _Record:
    order: int  # write order, as the store's row key
    versions: list[_Version]
    index: IndexRows

    @property
    def current(self) -> _Version:
        return self.versions[-1]


class MemorySystemReads:
    """``SystemReads`` over a :class:`MemoryRepository`'s records."""

    def __init__(self, repository: MemoryRepository) -> None:
        self._repo = repository

    def _live(self, resource_type: str) -> list[tuple[str, _Record]]:
        found = [
            (resource_id, record)
            for (kind, resource_id), record in self._repo.records.items()
            if kind == resource_type and record.current.body is not None
        ]
        return sorted(found, key=lambda item: item[1].order)

    def current(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        record = self._repo.records.get((resource_type, resource_id))
        body = None if record is None else record.current.body
        return None if body is None else copy.deepcopy(body)

    def current_many(self, resource_type: str, resource_ids: Any) -> dict[str, dict[str, Any]]:
        found = {i: self.current(resource_type, i) for i in resource_ids}
        return {i: body for i, body in found.items() if body is not None}

    def previous_version(self, resource: Any) -> dict[str, Any] | None:
        version = int((resource.get("meta") or {}).get("versionId") or 1)
        key = (str(resource.get("resourceType")), str(resource.get("id")))
        record = self._repo.records.get(key)
        if record is None or version <= 1 or version - 1 > len(record.versions):
            return None
        body = record.versions[version - 2].body
        return None if body is None else copy.deepcopy(body)

    def referencing(self, source_type: str, param: str, target: str) -> list[dict[str, Any]]:
        target_type, target_id = split_reference(target)
        if target_type is None:
            return []
        return [r for _, r in self.referencing_any(source_type, param, target_type, [target_id])]

    def referencing_any(
        self, source_type: str, param: str, target_type: str, target_ids: Any
    ) -> list[tuple[str, dict[str, Any]]]:
        wanted = set(target_ids)
        found = []
        for _, record in self._live(source_type):
            for name, kind, ident in record.index.references:
                if name == param and kind == target_type and ident in wanted:
                    found.append((ident, copy.deepcopy(record.current.body or {})))
        return found

    def with_tokens(self, resource_type: str, tokens: Any) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(record.current.body or {})
            for _, record in self._live(resource_type)
            if all(
                any(p == param and c == code for p, _, c in record.index.tokens)
                for param, code in tokens.items()
            )
        ]

    def ids(self, resource_type: str) -> set[str]:
        return {resource_id for resource_id, _ in self._live(resource_type)}

    def count(self, resource_type: str) -> int:
        return len(self._live(resource_type))


class MemoryRepository:
    """``FhirRepository`` in a dict: one instance is one database (see the module docstring)."""

    def __init__(self, cipher: FieldCipher, base_url: str = "") -> None:
        self.cipher = cipher  # blind indexes of protected identifiers, as the store computes them
        self.base_url = base_url
        self.records: dict[tuple[str, str], _Record] = {}
        self.system = MemorySystemReads(self)
        self._order = 0

    # -- reads ----------------------------------------------------------------------------
    def _record(self, resource_type: str, resource_id: str) -> _Record:
        if resource_type not in RESOURCE_DEFS:
            raise NotFound(f"resource type {resource_type[:64]!r} is not supported")
        record = self.records.get((resource_type, resource_id))
        if record is None:
            raise NotFound(not_available(f"{resource_type}/{resource_id}"))
        return record

    def read(self, resource_type: str, resource_id: str) -> StoredResource:
        record = self._record(resource_type, resource_id)
        if record.current.body is None:
            raise Gone(f"{resource_type}/{resource_id} was deleted")
        return _stored(resource_type, resource_id, record.current, record.order)

    def vread(self, resource_type: str, resource_id: str, version_id: int) -> StoredResource:
        record = self._record(resource_type, resource_id)
        if not 1 <= version_id <= len(record.versions):
            raise NotFound(not_available(f"{resource_type}/{resource_id}/_history/{version_id}"))
        version = record.versions[version_id - 1]
        if version.body is None:
            raise Gone(f"{resource_type}/{resource_id} version {version_id} is a deletion")
        return _stored(resource_type, resource_id, version, record.order)

    def search(self, resource_type: str, query: Query) -> SearchResult:
        request = parse_search(
            resource_type, list(query), RESOURCE_DEFS, default_count=50, max_count=1000,
            limits=_LIMITS,
        )  # fmt: skip
        live = sorted(
            (
                (key, record)
                for key, record in self.records.items()
                if key[0] == resource_type and record.current.body is not None
            ),
            key=lambda item: item[1].order,
        )
        hits = [
            _stored(resource_type, key[1], record.current, record.order)
            for key, record in live
            if all(self._matches(key[1], record, c) for c in request.criteria)
        ]
        page = hits[request.offset : request.offset + request.count]
        more = len(hits) > request.offset + request.count
        return SearchResult(matches=page, total=len(hits), more=more)

    def history(
        self,
        resource_type: str,
        resource_id: str | None = None,
        *,
        count: int = 50,
        offset: int = 0,
        since: datetime | None = None,
    ) -> tuple[list[HistoryEntry], int]:
        keys = (
            [(resource_type, resource_id)]
            if resource_id is not None
            else [k for k in self.records if k[0] == resource_type]
        )
        if resource_id is not None:
            self._record(resource_type, resource_id)
        entries = []
        for kind, ident in keys:
            record = self.records[(kind, ident)]
            for v in record.versions:
                if since is None or v.last_updated >= since:
                    stored = None if v.body is None else _stored(kind, ident, v, record.order)
                    entries.append(
                        HistoryEntry(kind, ident, v.version_id, v.last_updated, v.method, stored)
                    )
        entries.sort(key=lambda e: (e.last_updated, e.version_id), reverse=True)
        return entries[offset : offset + count], len(entries)

    # -- writes ---------------------------------------------------------------------------
    def create(
        self,
        resource_type: str,
        body: dict[str, Any],
        *,
        resource_id: str | None = None,
        validated: bool = False,
    ) -> StoredResource:
        body = dict(body, id=resource_id or str(uuid.uuid4()))
        if not validated:
            self._validate(resource_type, body)
        if (resource_type, body["id"]) in self.records:
            raise Conflict(f"{resource_type}/{body['id']} already exists")
        self._check_references(body)
        self._order += 1
        record = _Record(self._order, [], IndexRows())
        self.records[(resource_type, body["id"])] = record
        return self._append(resource_type, record, body, "POST")

    def update(
        self,
        resource_type: str,
        resource_id: str,
        body: dict[str, Any],
        *,
        if_match: int | None = None,
    ) -> tuple[StoredResource, bool]:
        if body.get("id") != resource_id:
            raise InvalidRequest(f"body id does not match the URL id {resource_id!r}")
        self._validate(resource_type, body)
        record = self.records.get((resource_type, resource_id))
        if record is None:
            if if_match is not None:
                raise PreconditionFailed(f"{resource_type}/{resource_id} does not exist")
            created = self.create(resource_type, body, resource_id=resource_id, validated=True)
            return created, True
        if if_match is not None and if_match != record.current.version_id:
            raise PreconditionFailed(
                f"version conflict: {resource_type}/{resource_id} is at version "
                f"{record.current.version_id}, If-Match gave {if_match}"
            )
        self._check_references(body)
        return self._append(resource_type, record, dict(body), "PUT"), False

    def delete(self, resource_type: str, resource_id: str) -> int | None:
        record = self.records.get((resource_type, resource_id))
        if record is None or record.current.body is None:
            return None
        target = f"{resource_type}/{resource_id}"
        for (kind, ident), other in sorted(self.records.items(), key=lambda i: i[1].order):
            if other.current.body is None or (kind, ident) == (resource_type, resource_id):
                continue
            if any((t, i) == (resource_type, resource_id) for _, t, i in other.index.references):
                raise Conflict(f"{target} is referenced by {kind}/{ident}")
        version = _Version(record.current.version_id + 1, datetime.now(UTC), "DELETE", None)
        record.versions.append(version)
        record.index = IndexRows()
        return version.version_id

    def write_batch(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """POST, PUT and DELETE entries (no GET, no conditional or urn:uuid references)."""
        kind = bundle.get("type")
        if kind not in ("batch", "transaction"):
            raise InvalidRequest("Bundle.type must be batch or transaction")
        saved = (copy.deepcopy(self.records), self._order)
        responses = []
        for entry in bundle.get("entry") or []:
            try:
                responses.append({"response": {"status": self._entry(entry)}})
            except (Conflict, Gone, InvalidRequest, NotFound, PreconditionFailed) as exc:
                if kind == "transaction":
                    self.records, self._order = saved  # all or none
                    raise
                responses.append({"response": {"status": str(exc.status)}})
        return {"resourceType": "Bundle", "type": f"{kind}-response", "entry": responses}

    # -- helpers --------------------------------------------------------------------------
    def _entry(self, entry: dict[str, Any]) -> str:
        request = entry.get("request") or {}
        method, url = str(request.get("method")), str(request.get("url") or "")
        resource_type, _, resource_id = url.partition("/")
        if method == "POST":
            return f"201 Created {self.create(resource_type, entry['resource']).resource_id}"
        if method == "PUT":
            _, created = self.update(resource_type, resource_id, entry["resource"])
            return "201 Created" if created else "200 OK"
        if method == "DELETE":
            self.delete(resource_type, resource_id)
            return "204 No Content"
        raise InvalidRequest(f"{method} entries are not supported by the memory repository")

    def _validate(self, resource_type: str, body: dict[str, Any]) -> None:
        if resource_type not in RESOURCE_DEFS:
            raise NotFound(f"resource type {resource_type[:64]!r} is not supported")
        if body.get("resourceType") != resource_type:
            raise InvalidRequest("body resourceType does not match the URL type")
        validate_resource(resource_type, body)

    def _check_references(self, body: dict[str, Any]) -> None:
        itself = f"{body.get('resourceType')}/{body.get('id')}"
        for reference in local_references(body, self.base_url):
            if reference.key != itself and self.system.current(*reference.key.split("/")) is None:
                raise InvalidRequest(
                    f"{reference.path}: reference {reference.key} does not exist on this server",
                    expression=[reference.path],
                    code="not-found",
                )

    def _append(
        self, resource_type: str, record: _Record, body: dict[str, Any], method: str
    ) -> StoredResource:
        number = len(record.versions) + 1
        now = datetime.now(UTC)
        stamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        body["meta"] = dict(body.get("meta") or {}, versionId=str(number), lastUpdated=stamp)
        version = _Version(number, now, method, copy.deepcopy(body))
        record.versions.append(version)
        definition = RESOURCE_DEFS[resource_type]
        record.index = extract_index(body, definition, self.cipher, self.base_url)
        return _stored(resource_type, body["id"], version, record.order)

    def _matches(self, resource_id: str, record: _Record, criterion: Criterion) -> bool:
        param = criterion.param
        values = criterion.values
        if param.name == "_id":
            return resource_id in values
        if param.name == "_lastUpdated":
            return any(_date_matches(record.current.last_updated, v) for v in values)
        rows = record.index
        test: Callable[[str], bool]
        if param.type is ParamType.REFERENCE:
            refs = [(t, i) for p, t, i in rows.references if p == param.name]

            def test(value: str) -> bool:
                kind, ident = split_reference(value, self.base_url)
                kind = kind or criterion.target_type
                return any(i == ident and (kind is None or t == kind) for t, i in refs)
        elif param.type in (ParamType.TOKEN, ParamType.URI):
            tokens = [(s, c) for p, s, c in rows.tokens if p == param.name]

            def test(value: str) -> bool:
                system, bar, code = value.rpartition("|")
                wanted = None if not bar else system or ""
                candidates = _token_candidates(self.cipher, code, wanted or None)
                return any(
                    (wanted is None or (s or "") == wanted) and (not code or c in candidates)
                    for s, c in tokens
                )
        elif param.type is ParamType.STRING:
            strings = [(n, e) for p, n, e in rows.strings if p == param.name]

            def test(value: str) -> bool:
                if criterion.modifier == "exact":
                    return any(e == value for _, e in strings)
                norm = normalise_string(value)
                if criterion.modifier == "contains":
                    return any(norm in n for n, _ in strings)
                return any(n.startswith(norm) for n, _ in strings)
        else:
            raise InvalidRequest(f"{param.name}: not searchable in the memory repository")
        return any(test(v) for v in values)


def _token_candidates(cipher: FieldCipher, code: str, system: str | None) -> set[str]:
    """The indexed forms a code may have: protected identifiers and phones are stored blind."""
    if system in PROTECTED_IDENTIFIER_SYSTEMS:
        return {identifier_blind_index(cipher, code)}
    if system is None:
        return {code, identifier_blind_index(cipher, code), phone_blind_index(cipher, code)}
    return {code}


def _date_matches(moment: datetime, raw: str) -> bool:
    prefix, text = split_prefix(raw)
    low, high = date_range(text)
    checks = {
        "eq": low <= moment < high,
        "ne": not low <= moment < high,
        "gt": moment >= high,
        "ge": moment >= low,
        "lt": moment < low,
        "le": moment < high,
    }
    return checks.get(prefix or "eq", False)


def _stored(resource_type: str, resource_id: str, version: _Version, order: int) -> StoredResource:
    return StoredResource(
        resource_type, resource_id, version.version_id, version.last_updated,
        orjson.dumps(version.body), order,
    )  # fmt: skip
