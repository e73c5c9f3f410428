"""The generic FHIR repository: one code path for every registered resource type.

Create, read, vread, update, delete and history, with versioning, index maintenance, access
checks and audit entries, all inside the caller's transaction. Conditional operations, search
and Bundles are built on these in ``conditional.py``, ``search/engine.py`` and ``bundle.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from consent.combination import DecisionTally
from consent.enforcement import ConsentGuard
from hub.audit.service import AuditEntry, record_access
from hub.auth.actor import Actor
from hub.auth.scopes import Interaction
from hub.errors import (
    Conflict,
    Gone,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PreconditionFailed,
    not_available,
)
from hub.fhir import access, row_writes
from hub.fhir.bundle import BundleProcessor
from hub.fhir.history import history as version_history
from hub.fhir.models import (
    INDEX_TABLES,
    DateIndex,
    QuantityIndex,
    ReferenceIndex,
    ResourceRow,
    ResourceVersionRow,
    StringIndex,
    TokenIndex,
)
from hub.fhir.references import check_references, enforced_for
from hub.fhir.registry import ResourceDef
from hub.fhir.repository import HistoryEntry, Query, SearchResult, StoredResource
from hub.fhir.repository import parse_if_match as parse_if_match
from hub.fhir.responses import search_bundle
from hub.fhir.search.counts import Key, Tally, count_each, tally
from hub.fhir.search.engine import run_search
from hub.fhir.search.extract import extract_index
from hub.fhir.search.params import SearchRequest, parse_search
from hub.fhir.search_parameters import RESOURCE_DEFS
from hub.fhir.system_reads import StoreSystemReads
from hub.fhir.validation import validate_resource
from hub.fhir.write_access import decide_write
from hub.fhir.write_hooks import WriteKind, run_write_checks, run_write_hooks
from hub.fhir.write_origin import origin_for, with_origin
from hub.security.fields import FieldCipher, contains_sealed_values, seal_resource, unseal_resource
from hub.settings import get_settings

_ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")
# Built once: SQLAlchemy then reuses the statement's cache key and compiled form on every call.
_ROW = select(ResourceRow).where(
    ResourceRow.resource_type == bindparam("resource_type"),
    ResourceRow.resource_id == bindparam("resource_id"),
)
_ROW_FOR_UPDATE = _ROW.with_for_update()
_VERSION_TABLE = cast(Table, ResourceVersionRow.__table__)


def check_id(resource_id: str) -> None:
    if not 1 <= len(resource_id) <= 64 or not set(resource_id) <= _ID_CHARS:
        raise InvalidRequest(f"{resource_id[:70]!r} is not a valid FHIR id")


class FhirStore:
    def __init__(
        self, session: Session, actor: Actor, cipher: FieldCipher, base_url: str = ""
    ) -> None:
        self.session = session
        self.actor = actor
        self.cipher = cipher
        self.base_url = base_url
        self.guard = ConsentGuard(session, actor, base_url)
        self.system = StoreSystemReads(session, cipher)  # the hub's own reads (no consent/audit)
        self.enforce_references = enforced_for(actor.facility)
        # ``Type/id`` of the resources the running transaction writes: they count as existing.
        self.bundle_targets: frozenset[str] = frozenset()
        # ``Type/id`` of what the write hooks created alongside a write (a referral's Task): the
        # API names them in a ``Link`` header of its answer.
        self.created_by_hooks: list[str] = []
        # The consent decisions the last audited interaction rested on (what it withheld).
        self.last_tally = DecisionTally()
        self._hook_depth = 0

    # -- registry -----------------------------------------------------------------------
    def definition(self, resource_type: str) -> ResourceDef:
        definition = RESOURCE_DEFS.get(resource_type)
        if definition is None:
            raise NotFound(
                f"resource type {resource_type[:64]!r} is not supported by this server",
                code="not-supported",
            )
        return definition

    def writable_definition(self, resource_type: str) -> ResourceDef:
        definition = self.definition(resource_type)
        if definition.read_only:
            raise MethodNotAllowed(f"{resource_type} is read-only on this server")
        return definition

    # -- audit --------------------------------------------------------------------------
    def audit(
        self,
        interaction: str,
        resource_type: str | None,
        resources: list[str],
        patients: list[str],
        query_params: str | None = None,
    ) -> None:
        """Queue the audit record of one interaction, with the consent decisions it took."""
        tally, self.guard.tally = self.guard.tally, DecisionTally()
        self.last_tally = tally  # what the interaction's consent decisions withheld (console)
        record_access(
            self.session,
            AuditEntry(
                self.actor,
                interaction,
                resource_type,
                resources,
                patients,
                query_params=query_params,
                decision=tally.decision,
                consents=list(tally.consents),
                break_glass=tally.break_glass_reason is not None,
                break_glass_reason=tally.break_glass_reason,
                denied=tally.denied,
            ),
        )

    # -- (de)serialisation ----------------------------------------------------------------
    def to_stored(self, row: ResourceRow | ResourceVersionRow, version_id: int) -> StoredResource:
        assert row.content is not None
        content = row.content
        if contains_sealed_values(content):
            data = unseal_resource(orjson.loads(content), self.cipher)
            body = orjson.dumps(data)
        else:
            body = content.encode()
        rid = row.rid
        return StoredResource(
            row.resource_type, row.resource_id, version_id, row.last_updated, body, rid
        )

    # -- writes ---------------------------------------------------------------------------
    def prepare(self, resource_type: str, body: dict[str, Any]) -> ResourceDef:
        definition = self.writable_definition(resource_type)
        if body.get("resourceType") != resource_type:
            raise InvalidRequest(
                f"body resourceType {str(body.get('resourceType'))[:64]!r} does not match "
                f"the URL type {resource_type}"
            )
        validate_resource(resource_type, body)
        access.require_in_compartment(self.actor, body, definition, self.base_url)
        return definition

    def create(
        self,
        resource_type: str,
        body: dict[str, Any],
        *,
        resource_id: str | None = None,
        validated: bool = False,
    ) -> StoredResource:
        self.writable_definition(resource_type)  # 405 for a read-only type, whatever the scopes
        access.require(self.actor, resource_type, Interaction.create)
        body = dict(body)
        body["id"] = resource_id or str(uuid.uuid4())
        definition = (
            self.definition(resource_type) if validated else self.prepare(resource_type, body)
        )
        if resource_id is not None:
            check_id(resource_id)
            # ``validated``: update() calls, having validated the body and found no row under
            # this id in this very transaction; asking again would cost a round trip.
            if not validated and self.current_row(resource_type, resource_id) is not None:
                raise Conflict(f"{resource_type}/{resource_id} already exists")
        self.authorize_create(resource_type, body)
        run_write_checks(self, WriteKind.CREATE, resource_type, body)
        self._check_references(resource_type, body)
        now = datetime.now(UTC)
        stored = self.stamp(body, 1, now)
        rid = self._insert_rows(resource_type, body, definition, now, stored)
        self.audit(
            "create",
            resource_type,
            [f"{resource_type}/{body['id']}"],
            access.patients_of(body, definition, self.base_url),
        )
        if self._hook_depth:
            self.created_by_hooks.append(f"{resource_type}/{body['id']}")
        self._run_hooks(WriteKind.CREATE, resource_type, body)
        return StoredResource(resource_type, body["id"], 1, now, orjson.dumps(body), rid)

    def _run_hooks(self, kind: WriteKind, resource_type: str, body: dict[str, Any]) -> None:
        self._hook_depth += 1
        try:
            run_write_hooks(self, kind, resource_type, body)
        finally:
            self._hook_depth -= 1

    def authorize_create(self, resource_type: str, body: dict[str, Any]) -> None:
        """Stamp the origin of a new resource and ask the write decision (every create path,
        bulk load included, comes through here)."""
        with_origin(body, origin_for(self.actor, body, None))
        decide_write(self.actor, WriteKind.CREATE, resource_type, None, body, self.base_url)

    def update(
        self,
        resource_type: str,
        resource_id: str,
        body: dict[str, Any],
        *,
        if_match: int | None = None,
    ) -> tuple[StoredResource, bool]:
        """Update (or create with a client id). Returns the resource and whether it was created."""
        check_id(resource_id)
        if body.get("id") != resource_id:
            raise InvalidRequest(
                f"body id {str(body.get('id'))[:64]!r} does not match the URL id {resource_id!r}"
            )
        definition = self.prepare(resource_type, body)
        row = self.current_row(resource_type, resource_id, for_update=True)
        if row is None:
            if if_match is not None:
                raise PreconditionFailed(f"{resource_type}/{resource_id} does not exist")
            return self.create(resource_type, body, resource_id=resource_id, validated=True), True
        access.require(self.actor, resource_type, Interaction.update)
        current = self._current_for_write(row, definition)
        with_origin(body, origin_for(self.actor, body, current))
        decide_write(self.actor, WriteKind.UPDATE, resource_type, current, body, self.base_url)
        run_write_checks(self, WriteKind.UPDATE, resource_type, body)
        self._check_references(resource_type, body)
        if if_match is not None and if_match != row.version_id:
            raise PreconditionFailed(
                f"version conflict: {resource_type}/{resource_id} is at version "
                f"{row.version_id}, If-Match gave {if_match}"
            )
        version = row.version_id + 1
        now = datetime.now(UTC)
        stored = self.stamp(body, version, now)
        self._replace_rows(row, body, definition, version, now, stored)
        self.audit(
            "update",
            resource_type,
            [f"{resource_type}/{resource_id}"],
            access.patients_of(body, definition, self.base_url),
        )
        self._run_hooks(WriteKind.UPDATE, resource_type, body)
        return StoredResource(
            resource_type, resource_id, version, now, orjson.dumps(body), row.rid
        ), False

    def delete(self, resource_type: str, resource_id: str) -> int | None:
        """Delete; returns the new (deleted) version, or None if there was nothing to delete."""
        definition = self.writable_definition(resource_type)
        access.require(self.actor, resource_type, Interaction.delete)
        row = self.current_row(resource_type, resource_id, for_update=True)
        if row is None or row.deleted or row.content is None:
            self.audit("delete", resource_type, [f"{resource_type}/{resource_id}"], [])
            return None
        current = self._current_for_write(row, definition)
        assert current is not None
        decide_write(self.actor, WriteKind.DELETE, resource_type, current, None, self.base_url)
        self._refuse_if_referenced(resource_type, resource_id)
        version = row.version_id + 1
        now = datetime.now(UTC)
        self._replace_rows(row, None, None, version, now, None)
        self.audit(
            "delete",
            resource_type,
            [f"{resource_type}/{resource_id}"],
            access.patients_of(current, definition, self.base_url),
        )
        self._run_hooks(WriteKind.DELETE, resource_type, current)
        return version

    # -- reads ----------------------------------------------------------------------------
    def read(self, resource_type: str, resource_id: str) -> StoredResource:
        definition = self.definition(resource_type)
        access.require(self.actor, resource_type, Interaction.read)
        row = self.current_row(resource_type, resource_id)
        if row is None:
            raise NotFound(not_available(f"{resource_type}/{resource_id}"))
        if row.deleted or row.content is None:
            raise Gone(f"{resource_type}/{resource_id} was deleted")
        stored = self.to_stored(row, row.version_id)
        resource = stored.as_dict()
        self.require_visible(resource_type, resource, definition)
        stored = self.guard.require(stored, definition)
        self.audit(
            "read",
            resource_type,
            [f"{resource_type}/{resource_id}"],
            access.patients_of(resource, definition, self.base_url),
        )
        return stored

    def vread(self, resource_type: str, resource_id: str, version_id: int) -> StoredResource:
        definition = self.definition(resource_type)
        access.require(self.actor, resource_type, Interaction.read)
        row = self.current_row(resource_type, resource_id)
        version = (
            None if row is None else self.session.get(ResourceVersionRow, (row.rid, version_id))
        )
        if version is None:
            raise NotFound(not_available(f"{resource_type}/{resource_id}/_history/{version_id}"))
        if version.content is None:
            raise Gone(f"{resource_type}/{resource_id} version {version_id} is a deletion")
        stored = self.to_stored(version, version_id)
        resource = stored.as_dict()
        self.require_visible(resource_type, resource, definition)
        stored = self.guard.require(stored, definition)
        self.audit(
            "vread",
            resource_type,
            [f"{resource_type}/{resource_id}"],
            access.patients_of(resource, definition, self.base_url),
        )
        return stored

    def search_request(
        self, resource_type: str, query: Query, *, lenient: bool = False
    ) -> SearchRequest:
        """``query`` parsed against the registry, with the deployment's page sizes."""
        settings = get_settings()
        self.definition(resource_type)  # 404 for an unsupported type, before any parameter
        return parse_search(
            resource_type,
            list(query),
            RESOURCE_DEFS,
            default_count=settings.default_page_size,
            max_count=settings.max_page_size,
            lenient=lenient,
        )

    def search(self, resource_type: str, query: Query) -> SearchResult:
        names = ",".join(sorted({k for k, _ in query}))
        return run_search(self, self.search_request(resource_type, query), names)

    def count_each(
        self, resource_type: str, query: Query, each: Mapping[Key, Query]
    ) -> dict[Key, int]:
        """For each key, the total of the search ``query + each[key]`` (as ``_summary=count``
        gives it to this caller), all in one statement and audited as one search."""
        figures = {key: self.search_request(resource_type, extra) for key, extra in each.items()}
        names = {k for k, _ in query} | {k for extra in each.values() for k, _ in extra}
        return count_each(self, self.search_request(resource_type, query), figures,
                          ",".join(sorted(names)))  # fmt: skip

    def tally(
        self, resource_type: str, query: Query, by: Sequence[str], sums: Sequence[str] = ()
    ) -> list[Tally]:
        """The resources of the search ``query`` counted per combination of values of ``by``,
        with the sums of ``sums`` (in hundredths): what the caller's searches would count,
        in one grouped statement, audited as one search."""
        names = ",".join(sorted({k for k, _ in query} | set(by) | set(sums)))
        return tally(self, self.search_request(resource_type, query), by, sums, names)

    def search_bundle(self, resource_type: str, query: Query) -> dict[str, Any]:
        """A search as its searchset Bundle (what a Bundle's GET entry answers)."""
        request = self.search_request(resource_type, query)
        result = run_search(self, request, ",".join(sorted({k for k, _ in query})))
        page_base = f"{self.base_url}/{resource_type}"
        found: dict[str, Any] = orjson.loads(
            search_bundle(result, request, self.base_url, page_base, list(query))
        )
        return found

    def history(
        self,
        resource_type: str,
        resource_id: str | None = None,
        *,
        count: int = 50,
        offset: int = 0,
        since: datetime | None = None,
    ) -> tuple[list[HistoryEntry], int]:
        return version_history(
            self, resource_type, resource_id, count=count, offset=offset, since=since
        )

    def write_batch(self, bundle: dict[str, Any]) -> dict[str, Any]:
        max_entries = get_settings().max_bundle_entries
        processor = BundleProcessor(self, self.search_bundle, max_entries=max_entries)
        # A savepoint: a failed transaction leaves nothing behind even when the caller goes on
        # with its unit of work (the HTTP route rolls the whole request back anyway).
        with self.session.begin_nested():
            return processor.process(bundle)

    def restamp_origin(self, row: ResourceRow, body: dict[str, Any], origin: str) -> None:
        """Repair: give a stored resource (current version) the origin it lacked, in place, as
        every write path now stamps it (``hub db reindex``); audited like any change."""
        with_origin(body, origin)
        reference = f"{row.resource_type}/{row.resource_id}"
        definition = self.definition(row.resource_type)
        patients = access.patients_of(body, definition, self.base_url)
        self.audit("update", row.resource_type, [reference], patients, "origin-repair")
        content = orjson.dumps(seal_resource(body, self.cipher)).decode()
        self.session.execute(
            update(ResourceRow).where(ResourceRow.rid == row.rid).values(content=content)
        )
        self.session.execute(
            update(_VERSION_TABLE)
            .where(_VERSION_TABLE.c.rid == row.rid, _VERSION_TABLE.c.version_id == row.version_id)
            .values(content=content)
        )

    # -- helpers --------------------------------------------------------------------------
    def _refuse_if_referenced(self, resource_type: str, resource_id: str) -> None:
        """Referential integrity on delete, as HAPI FHIR's default: 409 while a current
        resource references this one (exempt like writes: ``HUB_ALLOW_DANGLING_REFERENCES``).
        The referrer is named by type and id only, which tells nothing of its content."""
        if not self.enforce_references:
            return
        referrer = self.system.first_referrer(resource_type, resource_id)
        if referrer is not None:
            raise Conflict(
                f"{resource_type}/{resource_id} is referenced by {referrer}; "
                "delete or change the referencing resources first"
            )

    def _check_references(self, resource_type: str, body: dict[str, Any]) -> None:
        """No dangling local references (hub/fhir/references.py); a resource may name itself."""
        if self.enforce_references:
            itself = f"{resource_type}/{body['id']}"
            also = self.bundle_targets | {itself}
            check_references(self.session, body, self.base_url, also_existing=also)

    def require_visible(
        self, resource_type: str, resource: dict[str, Any], definition: ResourceDef
    ) -> None:
        """Outside a patient token's compartment: answered like an unknown id; another
        facility's facility-held resource (``access.FACILITY_HELD``): 403."""
        if not access.visible_to_patient(
            self.session, self.actor, resource, definition, self.base_url
        ):
            raise NotFound(not_available(f"{resource_type}/{resource.get('id')}"))
        access.require_facility_holds(self.actor, resource, definition, self.base_url)

    def _current_for_write(
        self, row: ResourceRow, definition: ResourceDef
    ) -> dict[str, Any] | None:
        """The current content a write replaces, once the writer may see it (like a read:
        compartment, then consent; refused like an unknown id). None when deleted."""
        if row.deleted or row.content is None:
            return None
        stored = self.to_stored(row, row.version_id)
        current = stored.as_dict()
        self.require_visible(row.resource_type, current, definition)
        self.guard.require(stored, definition)
        return current

    def current_row(
        self, resource_type: str, resource_id: str, *, for_update: bool = False
    ) -> ResourceRow | None:
        stmt = _ROW_FOR_UPDATE if for_update else _ROW
        params = {"resource_type": resource_type, "resource_id": resource_id}
        return self.session.execute(stmt, params).scalar_one_or_none()

    def stamp(self, body: dict[str, Any], version: int, now: datetime) -> str:
        meta = dict(body.get("meta") or {})
        meta["versionId"] = str(version)
        meta["lastUpdated"] = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        body["meta"] = meta
        return orjson.dumps(seal_resource(body, self.cipher)).decode()

    def _write_version(
        self,
        rid: int,
        resource_type: str,
        resource_id: str,
        version: int,
        now: datetime,
        method: str,
        content: str | None,
    ) -> None:
        self.session.execute(
            insert(_VERSION_TABLE),
            {
                "rid": rid,
                "version_id": version,
                "resource_type": resource_type,
                "resource_id": resource_id,
                "last_updated": now,
                "method": method,
                "content": content,
            },
        )

    # The rows of a write: one statement on PostgreSQL (hub/fhir/row_writes.py), else several.
    def _fused(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def _insert_rows(
        self,
        resource_type: str,
        body: dict[str, Any],
        definition: ResourceDef,
        now: datetime,
        stored: str,
    ) -> int:
        if self._fused():
            index = extract_index(body, definition, self.cipher, self.base_url)
            return row_writes.insert_resource(
                self.session, resource_type=resource_type, resource_id=body["id"], now=now,
                content=stored, index=index,
            )  # fmt: skip
        rid: int = self.session.execute(
            insert(ResourceRow).returning(ResourceRow.rid),
            {
                "resource_type": resource_type,
                "resource_id": body["id"],
                "version_id": 1,
                "last_updated": now,
                "deleted": False,
                "content": stored,
            },
        ).scalar_one()
        self._write_version(rid, resource_type, body["id"], 1, now, "POST", stored)
        self.write_index(rid, resource_type, body, definition)
        return rid

    def _replace_rows(
        self,
        row: ResourceRow,
        body: dict[str, Any] | None,
        definition: ResourceDef | None,
        version: int,
        now: datetime,
        stored: str | None,
    ) -> None:
        """A new version of ``row``: ``body`` (stored as ``stored``), or a deletion (None)."""
        target = row_writes.NewVersion(row.rid, row.resource_type, row.resource_id, version, now)
        index = None
        if body is not None and definition is not None:
            index = extract_index(body, definition, self.cipher, self.base_url)
        if self._fused():
            if stored is None or index is None:
                row_writes.delete_resource(self.session, target)
            else:
                row_writes.replace_resource(self.session, target, stored, index)
            return
        self.session.execute(
            update(ResourceRow)
            .where(ResourceRow.rid == row.rid)
            .values(version_id=version, last_updated=now, deleted=stored is None, content=stored)
        )
        method = "DELETE" if stored is None else "PUT"
        self._write_version(
            row.rid, row.resource_type, row.resource_id, version, now, method, stored
        )
        self.clear_index(row.rid)
        if body is not None and definition is not None:
            self.write_index(row.rid, row.resource_type, body, definition)

    def clear_index(self, rid: int) -> None:
        for table in INDEX_TABLES:
            self.session.execute(delete(table).where(table.rid == rid))

    def write_index(
        self, rid: int, resource_type: str, body: dict[str, Any], definition: ResourceDef
    ) -> None:
        rows = extract_index(body, definition, self.cipher, self.base_url)
        base = {"rid": rid, "resource_type": resource_type}
        batches: list[tuple[Any, list[dict[str, Any]]]] = [
            (TokenIndex, [dict(base, param=p, system=s, code=c) for p, s, c in rows.tokens]),
            (
                StringIndex,
                [dict(base, param=p, value_norm=n, value_exact=e) for p, n, e in rows.strings],
            ),
            (DateIndex, [dict(base, param=p, low=lo, high=hi) for p, lo, hi in rows.dates]),
            (
                ReferenceIndex,
                [dict(base, param=p, target_type=t, target_id=i) for p, t, i in rows.references],
            ),
            (
                QuantityIndex,
                [dict(base, param=p, value=v, system=s, code=c) for p, v, s, c in rows.quantities],
            ),
        ]
        for table, values in batches:
            if values:
                self.session.execute(insert(table.__table__), values)  # Core: no ORM bulk path
