"""Every ORM module, imported so that Base.metadata is complete (Alembic, tests).

A composition point like :mod:`hub.wiring`: it names the adapters' tables too, so the
import contracts let it (and only it, among the core's modules) import their ``models``.
"""

from __future__ import annotations

import adapters.hl7v2.models
import adapters.outbound.models
import hub.audit.models
import hub.auth.models
import hub.auth.smart_app.models
import hub.console.models
import hub.fhir.models
import hub.mpi.models
import insurance.claims_audit.models
import insurance.pharmacy.models
import insurance.settlement.models
import referral.scheduling.models

MODEL_MODULES = (
    hub.audit.models,
    hub.auth.models,
    hub.auth.smart_app.models,
    hub.console.models,
    hub.fhir.models,
    hub.mpi.models,
    adapters.hl7v2.models,
    adapters.outbound.models,
    referral.scheduling.models,
    insurance.settlement.models,
    insurance.pharmacy.models,
    insurance.claims_audit.models,
)


def import_all_models() -> None:
    """Kept for callers that want the tables loaded: importing this module already did it."""
