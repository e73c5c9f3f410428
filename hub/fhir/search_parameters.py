"""The search parameters of every resource type the hub serves (the import point for the rest
of the hub).

They are defined in hub/fhir/search/: generated from the official FHIR R4 (4.0.1)
search-parameters.json (``r4_search_parameters.json``, loaded by ``definitions``), with the
hub's own and the untranslatable ones hand-written in ``hub_params``.
"""

from __future__ import annotations

from hub.fhir.search.definitions import (
    COMMON_PARAMS,
    RESOURCE_DEFS,
    SUPPORTED_TYPES,
    get_resource_def,
)

__all__ = ["COMMON_PARAMS", "RESOURCE_DEFS", "SUPPORTED_TYPES", "get_resource_def"]
