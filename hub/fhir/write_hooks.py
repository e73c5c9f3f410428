"""Write hooks: services that must follow resource changes in the same transaction.

The patient index registers for Patient writes here, so every path that writes a Patient (REST,
transaction Bundles, HL7 v2, bulk seeding through the store) feeds it, and the store itself
stays free of any service's logic. Every hook is registered in :mod:`hub.wiring` at start-up;
a write before that is refused (:class:`hub.events.NotWired`), never run without its hooks.

A write check (:func:`check_before_write`) is the cheap counterpart: the store runs it once the
write is authorised and before any row changes, so a service can refuse a write it would
refuse anyway without the cost of writing and rolling back. It reads, never writes, and is
never the only guard: the service's write hook still decides inside the write.
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
_HOOKS: dict[str, list[WriteHook]] = {}
_CHECKS: dict[str, list[WriteHook]] = {}


def on_write(resource_type: str, hook: WriteHook) -> None:
    """Run ``hook`` after every write of ``resource_type`` (called by :mod:`hub.wiring`)."""
    hooks = _HOOKS.setdefault(resource_type, [])
    if hook not in hooks:
        hooks.append(hook)


def run_write_hooks(
    store: FhirStore, kind: WriteKind, resource_type: str, resource: dict[str, Any]
) -> None:
    require_wiring()
    for hook in _HOOKS.get(resource_type, ()):
        hook(store, kind, resource_type, resource)


def check_before_write(resource_type: str, check: WriteHook) -> None:
    """Run ``check`` before any row of a ``resource_type`` create or update changes (called by
    :mod:`hub.wiring`); it refuses by raising."""
    checks = _CHECKS.setdefault(resource_type, [])
    if check not in checks:
        checks.append(check)


def run_write_checks(
    store: FhirStore, kind: WriteKind, resource_type: str, resource: dict[str, Any]
) -> None:
    require_wiring()
    for check in _CHECKS.get(resource_type, ()):
        check(store, kind, resource_type, resource)
