"""Write hooks: services that must follow resource changes in the same transaction.

The patient index registers for Patient writes here, so every path that writes a Patient (REST,
transaction Bundles, HL7 v2, bulk seeding through the store) feeds it, and the store itself
stays free of any service's logic. Every hook is registered in :mod:`hub.wiring` at start-up;
a write before that is refused (:class:`hub.events.NotWired`), never run without its hooks.

A write check (:func:`check_before_write`) is the cheap counterpart: the store runs it once the
write is authorised and before any row changes, so a service can refuse a write it would
refuse anyway without the cost of writing and rolling back. It reads, never writes, and is
never the only guard: the service's write hook still decides inside the write.

A derived-data hook (:func:`keep_derived`) keeps rows that are a function of the resource (the
consent summary) in step: it runs after the write hooks, and also on bulk loads, which leave
the other hooks out (``hub.fhir.bulk``), so no path writes the resource without it.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from hub.events import require_wiring

if TYPE_CHECKING:
    from hub.fhir.store import FhirStore


class WriteKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


WriteHook = Callable[["FhirStore", WriteKind, str, dict[str, Any]], None]
_HOOKS: dict[str, list[WriteHook]] = {}  # after the write, inside it
_CHECKS: dict[str, list[WriteHook]] = {}  # before any row changes
_DERIVED: dict[str, list[WriteHook]] = {}  # after the write hooks; bulk loads run them too


def on_write(resource_type: str, hook: WriteHook) -> None:
    """Run ``hook`` after every write of ``resource_type`` (called by :mod:`hub.wiring`)."""
    _register(_HOOKS, resource_type, hook)


def keep_derived(resource_type: str, hook: WriteHook) -> None:
    """Run ``hook`` after every write of ``resource_type``, bulk loads included (called by
    :mod:`hub.wiring`)."""
    _register(_DERIVED, resource_type, hook)


def check_before_write(resource_type: str, check: WriteHook) -> None:
    """Run ``check`` before any row of a ``resource_type`` create or update changes (called by
    :mod:`hub.wiring`); it refuses by raising."""
    _register(_CHECKS, resource_type, check)


def run_write_hooks(
    store: FhirStore, kind: WriteKind, resource_type: str, resource: dict[str, Any]
) -> None:
    _run(_HOOKS, store, kind, resource_type, resource)
    _run(_DERIVED, store, kind, resource_type, resource)


def run_derived_hooks(
    store: FhirStore, kind: WriteKind, resource_type: str, resource: dict[str, Any]
) -> None:
    """Only the derived-data hooks (a bulk load without its write hooks)."""
    _run(_DERIVED, store, kind, resource_type, resource)


def run_write_checks(
    store: FhirStore, kind: WriteKind, resource_type: str, resource: dict[str, Any]
) -> None:
    _run(_CHECKS, store, kind, resource_type, resource)


def _register(table: dict[str, list[WriteHook]], resource_type: str, hook: WriteHook) -> None:
    hooks = table.setdefault(resource_type, [])
    if hook not in hooks:
        hooks.append(hook)


def _run(
    table: dict[str, list[WriteHook]],
    store: FhirStore,
    kind: WriteKind,
    resource_type: str,
    resource: dict[str, Any],
) -> None:
    require_wiring()
    for hook in table.get(resource_type, ()):
        hook(store, kind, resource_type, resource)
