"""``_history`` for one resource or one type, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from hub.auth.scopes import Interaction
from hub.errors import Forbidden, NotFound
from hub.fhir import access
from hub.fhir.models import ResourceRow, ResourceVersionRow
from hub.fhir.repository import HistoryEntry

if TYPE_CHECKING:  # the store calls this module; it only names the store's type
    from hub.fhir.store import FhirStore


def history(
    store: FhirStore,
    resource_type: str,
    resource_id: str | None,
    *,
    count: int,
    offset: int = 0,
    since: datetime | None = None,
    total_up_to: int | None = None,
) -> tuple[list[HistoryEntry], int]:
    """One page of the history and its total (counted up to ``total_up_to`` when given: a
    caller that only asks whether there are more than so many need not count them all)."""
    definition = store.definition(resource_type)
    access.require(store.actor, resource_type, Interaction.read)
    conds = [ResourceVersionRow.resource_type == resource_type]
    if resource_id is not None:
        row = store.current_row(resource_type, resource_id)
        if row is None:
            raise NotFound(f"{resource_type}/{resource_id[:64]} is not known")
        conds.append(ResourceVersionRow.rid == row.rid)
        if row.content is not None:
            current = store.to_stored(row, row.version_id)
            store.require_visible(resource_type, current.as_dict(), definition)
            store.guard.require(current, definition)  # a denied resource has no history to show
    elif store.actor.patient is not None:
        raise Forbidden("type-level history is not available to patient tokens")
    elif access.facility_condition(store.actor, resource_type) is not None:
        raise Forbidden(f"type-level history of {resource_type} is not open to facilities")
    else:
        visible = [ResourceRow.resource_type == resource_type]
        consented = store.guard.search_condition(resource_type, definition, visible)
        if consented is not None:  # versions of the resources whose current state may be seen
            conds.append(
                ResourceVersionRow.rid.in_(select(ResourceRow.rid).where(*visible, consented))
            )
    if since is not None:
        conds.append(ResourceVersionRow.last_updated >= since)
    counted = select(ResourceVersionRow.rid).where(*conds)
    if total_up_to is not None:
        counted = counted.limit(total_up_to)
    total = store.session.execute(select(func.count()).select_from(counted.subquery())).scalar_one()
    rows = (
        store.session.execute(
            select(ResourceVersionRow)
            .where(*conds)
            .order_by(ResourceVersionRow.last_updated.desc(), ResourceVersionRow.version_id.desc())
            .offset(offset)
            .limit(count)
        )
        .scalars()
        .all()
    )
    entries = []
    for r in rows:
        stored = store.to_stored(r, r.version_id) if r.content is not None else None
        if stored is not None:
            # Each version is decided on its own content (labels may differ between versions).
            stored = store.guard.screen(stored, definition)
            if stored is None:
                continue
        entries.append(
            HistoryEntry(
                r.resource_type, r.resource_id, r.version_id, r.last_updated, r.method, stored
            )
        )
    interaction = "history-instance" if resource_id else "history-type"
    store.audit(
        interaction,
        resource_type,
        sorted({f"{e.resource_type}/{e.resource_id}" for e in entries}),
        [],
    )
    return entries, total


__all__ = ["HistoryEntry", "history"]
