"""FHIR writes from facility systems: their local identifiers get the facility's namespace.

A facility's HIS posts its own patient numbers (``{"value": "MRN-1"}``, or under a system only
it uses). Before the store sees the request, :func:`inbound_qualifier` rewrites them to the
system the HL7 v2 adapter gives the same number (``.../sid/facility/{code}/patient``), so the
same MRN from two facilities stays two identifiers, v2 and FHIR writes of one facility meet,
and conditional operations by local number find what the facility wrote before. What counts
as local is decided in :mod:`adapters.fhir_inbound.identifiers`; the rewriting of resources,
criteria and Bundles in :mod:`adapters.fhir_inbound.rewrite`.
"""

from __future__ import annotations

from adapters.fhir_inbound.identifiers import LocalRule, kind_for
from adapters.fhir_inbound.rewrite import Qualifier
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.settings import get_settings

__all__ = ["LocalRule", "Qualifier", "inbound_qualifier", "kind_for"]


def inbound_qualifier(actor: Actor) -> Qualifier:
    """The qualifier for a caller's writes: a facility system's rule, else one that does nothing."""
    if actor.role is not Role.facility_system or not actor.facility:
        return Qualifier(None)
    declared = get_settings().fhir_local_identifier_systems
    return Qualifier(LocalRule.of(actor.facility, declared))
