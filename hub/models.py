"""Imports every ORM module so that Base.metadata is complete (Alembic, tests)."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "hub.audit.models",
    "hub.auth.models",
    "hub.fhir.models",
    "hub.mpi.models",
    "adapters.hl7v2.models",
    "adapters.outbound.models",
    "referral.scheduling.models",
)


def import_all_models() -> None:
    for module in MODEL_MODULES:
        importlib.import_module(module)
