"""Imports every ORM module so that Base.metadata is complete (Alembic, tests)."""

from __future__ import annotations


def import_all_models() -> None:
    import hub.audit.models
    import hub.auth.models
    import hub.fhir.models
    import hub.mpi.models  # noqa: F401
