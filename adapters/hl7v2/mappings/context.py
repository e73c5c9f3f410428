"""What a mapping receives and returns, and the transaction Bundle it builds.

Every resource is written by a conditional request on one business identifier, with a
``urn:uuid`` full URL derived from that identifier (uuid5), so the same message always maps to
the same Bundle and reprocessing it updates rather than duplicates:

* ``PUT Type?identifier=system|value`` where the message is the authority on the resource
  (ADT for Patient and Encounter, ORU for its results, SIU for its appointments, ...);
* ``POST`` with ``ifNoneExist`` where the message only refers to it (the Patient of a lab
  result, the Encounter of a charge): created when unknown, otherwise left as the authority
  wrote it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

Resource = dict[str, Any]
Identifier = dict[str, Any]

_UUID_NAMESPACE = uuid.UUID("5b0c3f8e-4a8e-5d0f-9a57-3b1f7c2e9d41")  # fixed: URLs stay stable


@dataclass(frozen=True, slots=True)
class MappingContext:
    """Where a message came from: the sending facility and the inbox row it was stored in."""

    facility_code: str
    received_at: datetime  # timezone-aware
    message_key: str  # a stable id of the inbox row, never personal data

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")

    @property
    def source(self) -> str:
        """``meta.source`` of every resource the message produces."""
        return f"hl7v2:{quote(self.facility_code, safe='')}/{quote(self.message_key, safe='')}"


@dataclass(frozen=True, slots=True)
class IndexOperation:
    """A patient-index operation the Bundle cannot express (A37: unlink two source records)."""

    kind: Literal["unlink"]
    surviving_source_id: str
    other_source_id: str


@dataclass(frozen=True, slots=True)
class StatusReport:
    """The HIS reports a status on an appointment the hub booked (SCH-1/2 in the hub's
    namespace): applied to the hub's Appointment, status alone, never as a new one."""

    appointment_id: str
    status: str
    location: str = "SCH-2"  # the field that named the hub's Appointment (for an ERR)


@dataclass(slots=True)
class Mapped:
    bundle: dict[str, Any]
    index_operations: list[IndexOperation] = field(default_factory=list)
    resource_types: tuple[str, ...] = ()
    status_reports: list[StatusReport] = field(default_factory=list)


def full_url(resource_type: str, key: Identifier) -> str:
    name = f"{resource_type}|{key['system']}|{key['value']}"
    return f"urn:uuid:{uuid.uuid5(_UUID_NAMESPACE, name)}"


def criteria(key: Identifier) -> str:
    """``identifier=system|value``, percent-encoded for a request URL."""
    return "identifier=" + quote(f"{key['system']}|{key['value']}", safe="/:|")


class BundleBuilder:
    """Collects the entries of one transaction; ``add`` returns the reference to use."""

    __slots__ = ("_source", "_types", "context", "entries")

    def __init__(self, context: MappingContext) -> None:
        self.context = context
        self.entries: list[dict[str, Any]] = []
        self._types: dict[str, None] = {}
        self._source = context.source

    def put(self, resource_type: str, resource: Resource, key: Identifier) -> str:
        """Create or replace the resource whose identifier is ``key``; its reference."""
        url = f"{resource_type}?{criteria(key)}"
        return self._add(resource_type, resource, key, {"method": "PUT", "url": url})

    def ensure(self, resource_type: str, resource: Resource, key: Identifier) -> str:
        """Create the resource unless one with identifier ``key`` exists; its reference."""
        request = {"method": "POST", "url": resource_type, "ifNoneExist": criteria(key)}
        return self._add(resource_type, resource, key, request)

    def _add(
        self, resource_type: str, resource: Resource, key: Identifier, request: dict[str, str]
    ) -> str:
        url = full_url(resource_type, key)
        for entry in self.entries:
            if entry["fullUrl"] == url:  # the same resource twice in one message: keep one
                return url
        body: Resource = {"resourceType": resource_type, "meta": {"source": self._source}}
        body.update(resource)
        self.entries.append({"fullUrl": url, "resource": body, "request": request})
        self._types[resource_type] = None
        return url

    def build(self, index_operations: list[IndexOperation] | None = None) -> Mapped:
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": self.entries}
        return Mapped(bundle, index_operations or [], tuple(self._types))


def reference(url: str, display: str | None = None) -> dict[str, str]:
    ref = {"reference": url}
    if display:
        ref["display"] = display
    return ref
