"""Referential integrity on write: a local reference must name a resource that exists.

As HAPI FHIR does by default (``setEnforceReferentialIntegrityOnWrite``), a create or update
whose ``Reference.reference`` names a resource of this server that does not exist (never
written, or deleted) is refused with 400 (issue code ``not-found``, as the consent rules answer
an unknown Consent.patient) and an OperationOutcome naming the element path
(``Observation.subject``). Checked: relative ``Type/id`` (and ``Type/id/_history/n``) and
absolute URLs under this server's base, of the types the hub stores. Not checked: contained
(``#id``), ``urn:`` (resolved by the Bundle or left alone), absolute URLs of other servers,
logical references (identifier only), conditional ones (``Patient?identifier=...``) and types
the hub does not store (a guardian's RelatedPerson, which the consent rules ask for by
reference, lives with the facility).

The check asks whether the target *exists*, never whether the writer may see it: a reference
to another facility's Patient hidden by consent is accepted like any other, so a refusal never
tells a writer anything about a resource it cannot read. Facilities whose feeds arrive out of
order are exempt (``HUB_ALLOW_DANGLING_REFERENCES``), as HAPI's per-server switch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from hub.errors import InvalidRequest
from hub.fhir.models import ResourceRow
from hub.fhir.search_parameters import RESOURCE_DEFS
from hub.settings import get_settings


@dataclass(frozen=True)
class LocalReference:
    path: str  # e.g. Observation.performer[1]
    resource_type: str
    resource_id: str

    @property
    def key(self) -> str:
        return f"{self.resource_type}/{self.resource_id}"


def enforced_for(facility: str) -> bool:
    """Whether writes of ``facility`` must reference only existing local resources."""
    return facility not in get_settings().allow_dangling_references


def local_references(resource: dict[str, Any], base_url: str) -> list[LocalReference]:
    """Every reference of ``resource`` to a resource of this server, with its element path."""
    root = str(resource.get("resourceType", ""))
    found = []
    for path, text in _reference_strings(resource, root):
        target = _local_target(text, base_url)
        if target is not None:
            found.append(LocalReference(path, *target))
    return found


def check_references(
    session: Session,
    resource: dict[str, Any],
    base_url: str,
    *,
    also_existing: frozenset[str] = frozenset(),
) -> None:
    """Refuse ``resource`` if a local reference names no existing resource.

    ``also_existing``: ``Type/id`` keys written by the same transaction (its own entries,
    urn:uuid targets included) and the resource itself, which count as existing.
    """
    wanted = [r for r in local_references(resource, base_url) if r.key not in also_existing]
    if not wanted:
        return
    missing = _missing(session, wanted)
    if missing:
        first = missing[0]
        raise InvalidRequest(
            f"{first.path}: reference {first.key} does not exist on this server",
            expression=[r.path for r in missing],
            code="not-found",
        )


def check_batch_references(
    session: Session,
    resources: list[dict[str, Any]],
    base_url: str,
    *,
    also_existing: frozenset[str] = frozenset(),
) -> None:
    """:func:`check_references` for a bulk load: one lookup for the whole batch."""
    wanted = [
        reference
        for resource in resources
        for reference in local_references(resource, base_url)
        if reference.key not in also_existing
    ]
    missing = _missing(session, wanted) if wanted else []
    if missing:
        first = missing[0]
        raise InvalidRequest(
            f"{first.path}: reference {first.key} does not exist on this server",
            expression=sorted({r.path for r in missing})[:20],
            code="not-found",
        )


def _missing(session: Session, wanted: list[LocalReference]) -> list[LocalReference]:
    by_type: dict[str, set[str]] = defaultdict(set)
    for reference in wanted:
        by_type[reference.resource_type].add(reference.resource_id)
    # One statement for every type named (an Appointment names a Slot and a Patient).
    rows = session.execute(
        select(ResourceRow.resource_type, ResourceRow.resource_id).where(
            or_(
                *(
                    and_(
                        ResourceRow.resource_type == kind, ResourceRow.resource_id.in_(sorted(ids))
                    )
                    for kind, ids in sorted(by_type.items())
                )
            ),
            ResourceRow.deleted.is_(False),
        )
    ).all()
    existing = {f"{kind}/{ident}" for kind, ident in rows}
    return [r for r in wanted if r.key not in existing]


def _reference_strings(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        reference = node.get("reference")
        if isinstance(reference, str):
            yield path, reference
        for key, value in node.items():
            if key != "reference":
                yield from _reference_strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for n, item in enumerate(node):
            yield from _reference_strings(item, f"{path}[{n}]")


def _local_target(reference: str, base_url: str) -> tuple[str, str] | None:
    """(type, id) when ``reference`` points at this server, else None."""
    text = reference.strip()
    if text.startswith(("http://", "https://")):
        base = base_url.rstrip("/") + "/"
        if not base_url or not text.startswith(base):
            return None  # another server's resource
        text = text[len(base) :]
    if not text or text.startswith(("#", "urn:")) or "?" in text:
        return None
    parts = text.split("/")
    if len(parts) == 2 or (len(parts) == 4 and parts[2] == "_history"):
        resource_type, resource_id = parts[0], parts[1]
        if resource_type in RESOURCE_DEFS and resource_id:
            return resource_type, resource_id
    return None
