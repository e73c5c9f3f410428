"""How the FHIR router lets an adapter rewrite a facility's writes before the store sees them.

The facility-identifier rules live in ``adapters.fhir_inbound``; the core only knows this
interface. ``hub.wiring`` installs the adapter's qualifier at start-up; until then (and for
callers that are not facility systems) writes pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from hub.auth.actor import Actor

__all__ = ["InboundRewrite", "inbound_qualifier", "set_inbound_qualifier"]

Query = list[tuple[str, str]]


class InboundRewrite(Protocol):
    """Rewrites one caller's resources, search criteria, queries and Bundles."""

    def resource(self, resource_type: str, resource: Any) -> Any: ...
    def query(self, resource_type: str, query: Query) -> Query: ...
    def criteria(self, resource_type: str, criteria: str) -> str: ...
    def bundle(self, bundle: Any) -> Any: ...


class _Unchanged:
    def resource(self, resource_type: str, resource: Any) -> Any:
        return resource

    def query(self, resource_type: str, query: Query) -> Query:
        return query

    def criteria(self, resource_type: str, criteria: str) -> str:
        return criteria

    def bundle(self, bundle: Any) -> Any:
        return bundle


def _unchanged(actor: Actor) -> InboundRewrite:
    return _Unchanged()


_qualifier: list[Callable[[Actor], InboundRewrite]] = [_unchanged]


def set_inbound_qualifier(qualifier: Callable[[Actor], InboundRewrite]) -> None:
    """Install the rewrite for callers' writes (``hub.wiring``, once at start-up)."""
    _qualifier[0] = qualifier


def inbound_qualifier(actor: Actor) -> InboundRewrite:
    """The rewrite for this caller's writes (nothing changes unless one is installed)."""
    return _qualifier[0](actor)
