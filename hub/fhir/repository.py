"""The FHIR store's one public interface: what every module outside ``hub/fhir/`` may use.

Two faces, as Medplum's repository (``packages/server/src/fhir/repo.ts``) has one class with a
caller-bound and a system mode:

- :class:`FhirRepository`: the caller's reads and writes (read, vread, search, create, update,
  delete, a batch or transaction Bundle, history). Every call is decided for the caller it was
  built for (scopes, patient compartment, consent) and audited; writes pass the store's one
  write decision. ``hub.fhir.store.FhirStore`` implements it on the database,
  ``hub.fhir.memory.MemoryRepository`` in memory for the unit tests of the services.
- :class:`SystemReads`: the hub's *own* reads for routing decisions ("the Endpoints of facility
  X", "the active Subscriptions", "the Consents about this Patient"). They bypass the consent
  and authorization filter and write no audit entry, because nothing they return is disclosed
  to a caller; what the hub then sends is decided and audited where it leaves
  (``consent.enforcement.disclosed``). ``hub.fhir.system_reads.StoreSystemReads`` implements it.

Errors are the domain exceptions of ``hub.errors`` (NotFound, Gone, Conflict,
PreconditionFailed, ...), turned into an OperationOutcome with its status at the edge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson

from hub.errors import InvalidRequest

Query = Sequence[tuple[str, str]]  # search parameters as (name[:modifier], value) pairs


@dataclass(frozen=True)
class StoredResource:
    resource_type: str
    resource_id: str
    version_id: int
    last_updated: datetime
    json: bytes  # plaintext FHIR JSON, ready to send
    rid: int = 0  # the store's row key (0 outside the database store)

    @property
    def etag(self) -> str:
        return f'W/"{self.version_id}"'

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = orjson.loads(self.json)
        return result


@dataclass
class SearchResult:
    matches: list[StoredResource] = field(default_factory=list)
    included: list[StoredResource] = field(default_factory=list)
    total: int | None = None
    more: bool = False  # matches exist beyond this page


@dataclass
class HistoryEntry:
    resource_type: str
    resource_id: str
    version_id: int
    last_updated: datetime
    method: str  # POST, PUT, DELETE
    resource: StoredResource | None  # None for a deletion


def parse_if_match(header: str | None) -> int | None:
    """The version an ``If-Match: W/"3"`` header asks for (None without one)."""
    if header is None:
        return None
    text = header.strip().removeprefix("W/").strip('"')
    try:
        return int(text)
    except ValueError:
        raise InvalidRequest('If-Match must be an ETag like W/"3"') from None


class SystemReads(Protocol):
    """The hub's own reads of current resources: no consent, no scopes, no audit (see above).

    Resources come back as plain dicts (protected identifiers unsealed when the reader was
    given the cipher, else as stored). Deleted resources are never returned.
    """

    def current(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        """The current version, or None when unknown or deleted."""
        ...

    def current_many(
        self, resource_type: str, resource_ids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """The current versions of those that exist, by id."""
        ...

    def previous_version(self, resource: Mapping[str, Any]) -> dict[str, Any] | None:
        """The version before ``resource`` (as just written), or None for a first version."""
        ...

    def referencing(self, source_type: str, param: str, target: str) -> list[dict[str, Any]]:
        """Current ``source_type`` resources whose reference parameter ``param`` points at
        ``target`` (``Type/id``), oldest first."""
        ...

    def referencing_any(
        self, source_type: str, param: str, target_type: str, target_ids: Sequence[str]
    ) -> list[tuple[str, dict[str, Any]]]:
        """(target id, resource) for each current ``source_type`` resource whose ``param``
        points at one of ``target_ids``, oldest first."""
        ...

    def with_tokens(self, resource_type: str, tokens: Mapping[str, str]) -> list[dict[str, Any]]:
        """Current resources with every ``param: code`` token, oldest first."""
        ...

    def ids(self, resource_type: str) -> set[str]:
        """The ids of every current resource of a type."""
        ...

    def count(self, resource_type: str) -> int:
        """How many current resources of a type the store holds."""
        ...


class FhirRepository(Protocol):
    """The caller's FHIR interactions, decided and audited for the caller (see above)."""

    @property
    def system(self) -> SystemReads:
        """The hub's own reads (no consent filter, no audit): for routing decisions only."""
        ...

    def read(self, resource_type: str, resource_id: str) -> StoredResource:
        """404 NotFound when unknown (or hidden from the caller), 410 Gone when deleted."""
        ...

    def vread(self, resource_type: str, resource_id: str, version_id: int) -> StoredResource: ...

    def search(self, resource_type: str, query: Query) -> SearchResult:
        """One page of a FHIR search (``_count``, ``_offset``, ``_sort``, ``_total``...)."""
        ...

    def create(
        self,
        resource_type: str,
        body: dict[str, Any],
        *,
        resource_id: str | None = None,
        validated: bool = False,
    ) -> StoredResource:
        """Version 1 with a new id (or ``resource_id``; 409 Conflict if it exists)."""
        ...

    def update(
        self,
        resource_type: str,
        resource_id: str,
        body: dict[str, Any],
        *,
        if_match: int | None = None,
    ) -> tuple[StoredResource, bool]:
        """The next version (created when new: the flag says so); 412 when ``if_match`` is not
        the current version."""
        ...

    def delete(self, resource_type: str, resource_id: str) -> int | None:
        """The deleted version, or None when there was nothing to delete; 409 Conflict while
        other stored resources reference it (referential integrity)."""
        ...

    def write_batch(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """A batch or transaction Bundle; the response Bundle (a transaction is all or none)."""
        ...

    def history(
        self,
        resource_type: str,
        resource_id: str | None = None,
        *,
        count: int = 50,
        offset: int = 0,
        since: datetime | None = None,
    ) -> tuple[list[HistoryEntry], int]:
        """Versions newest first, and how many there are."""
        ...
