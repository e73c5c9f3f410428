"""Write hooks: services that must follow resource changes in the same transaction.

The patient index registers for Patient writes here, so every path that writes a Patient (REST,
transaction Bundles, HL7 v2, bulk seeding through the store) feeds it, and the store itself
stays free of any service's logic.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.fhir.store import FhirStore


class WriteKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


WriteHook = Callable[["FhirStore", WriteKind, str, dict[str, Any]], None]
_HOOKS: dict[str, list[WriteHook]] = {}
# The services that follow store writes; imported once, before the first write runs its hooks.
SERVICE_HOOK_MODULES = ("hub.mpi.hooks", "adapters.outbound.producers", "consent.hooks")
_loaded = False


def load_service_hooks() -> None:
    global _loaded
    if not _loaded:
        for module in SERVICE_HOOK_MODULES:
            importlib.import_module(module)
        _loaded = True


def on_write(resource_type: str) -> Callable[[WriteHook], WriteHook]:
    def register(hook: WriteHook) -> WriteHook:
        hooks = _HOOKS.setdefault(resource_type, [])
        if hook not in hooks:
            hooks.append(hook)
        return hook

    return register


def run_write_hooks(
    store: FhirStore, kind: WriteKind, resource_type: str, resource: dict[str, Any]
) -> None:
    load_service_hooks()
    for hook in _HOOKS.get(resource_type, ()):
        hook(store, kind, resource_type, resource)
