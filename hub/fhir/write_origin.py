"""Where a write's ``meta.source`` comes from (see ``hub.fhir.origin`` for what it means)."""

from __future__ import annotations

from typing import Any

from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.fhir.origin import facility_source, patient_source, source_of

HUB_FACILITY = "HUB"  # the facility code of the hub's own identities (system, CLI operators)


def origin_for(actor: Actor, body: dict[str, Any], current: dict[str, Any] | None) -> str | None:
    """The ``meta.source`` a write stores: never what a facility or patient claims.

    A resource keeps the origin it was created with (a Task owner's update stays the
    requester's); a new one is the writer's: its facility, or the patient whose app wrote it.
    Operators may set or correct an origin explicitly (a bulk load names the facility whose
    list it loads, through its identity); without one, their writes keep what was there.
    """
    claimed = source_of(body)
    if actor.role is Role.operator:
        if claimed is not None:
            return claimed
        if current is not None:
            return source_of(current)
        return facility_source(actor.facility) if actor.facility != HUB_FACILITY else None
    if current is not None:
        return source_of(current)
    if actor.patient is not None or actor.role is Role.patient:
        return patient_source(actor.patient) if actor.patient else None
    return facility_source(actor.facility)


def with_origin(body: dict[str, Any], origin: str | None) -> None:
    meta = dict(body.get("meta") or {})
    meta.pop("source", None)
    if origin is not None:
        meta["source"] = origin
    body["meta"] = meta
