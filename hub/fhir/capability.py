"""The CapabilityStatement, generated from the registry (nothing listed by hand)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub import __version__
from hub.fhir.registry import ParamType
from hub.fhir.search_parameters import RESOURCE_DEFS
from hub.settings import Settings

SMART_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
WRITE_INTERACTIONS = ("create", "update", "delete")
READ_INTERACTIONS = ("read", "vread", "search-type", "history-instance", "history-type")


def _resource_entry(resource_type: str) -> dict[str, Any]:
    definition = RESOURCE_DEFS[resource_type]
    interactions = list(READ_INTERACTIONS)
    if not definition.read_only:
        interactions = [*WRITE_INTERACTIONS, *interactions]
    references = [p.name for p in definition.params.values() if p.type is ParamType.REFERENCE]
    entry: dict[str, Any] = {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "interaction": [{"code": code} for code in interactions],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": not definition.read_only,
        "conditionalCreate": not definition.read_only,
        "conditionalRead": "not-supported",
        "conditionalUpdate": not definition.read_only,
        "conditionalDelete": "not-supported" if definition.read_only else "single",
        "searchInclude": [f"{resource_type}:{name}" for name in references],
        "searchRevInclude": sorted(
            f"{other}:{p.name}"
            for other, d in RESOURCE_DEFS.items()
            for p in d.params.values()
            if p.type is ParamType.REFERENCE and (not p.targets or resource_type in p.targets)
        ),
        "searchParam": [
            {
                "name": p.name,
                "type": str(p.type),
                "definition": f"http://hl7.org/fhir/SearchParameter/{resource_type}-{p.name}"
                if not p.name.startswith("_")
                else f"http://hl7.org/fhir/SearchParameter/Resource-{p.name[1:]}",
                "documentation": p.description or None,
            }
            for p in definition.params.values()
        ],
    }
    for param in entry["searchParam"]:
        if param["documentation"] is None:
            del param["documentation"]
    return entry


def capability_statement(settings: Settings) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": datetime.now(UTC).date().isoformat(),
        "publisher": "Yichang Regional Health Hub",
        "kind": "instance",
        "software": {"name": "Yichang Regional Health Hub", "version": __version__},
        "implementation": {
            "description": "Regional health-data hub",
            "url": settings.fhir_base_url,
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "description": "OAuth 2.0 client credentials with a JWT client assertion "
                    "(SMART Backend Services); SMART v2 scopes.",
                    "extension": [
                        {
                            "url": SMART_OAUTH_URIS,
                            "extension": [{"url": "token", "valueUri": settings.token_url}],
                        }
                    ],
                },
                "resource": [_resource_entry(t) for t in sorted(RESOURCE_DEFS)],
                "interaction": [{"code": "transaction"}, {"code": "batch"}],
            }
        ],
    }


def smart_configuration(settings: Settings) -> dict[str, Any]:
    base = settings.public_base_url.rstrip("/")
    return {
        "issuer": settings.public_base_url,
        "jwks_uri": f"{base}/auth/jwks",
        "authorization_endpoint": f"{base}/auth/authorize",
        "token_endpoint": settings.token_url,
        "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "ES384", "RS256", "RS384"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": [
            "system/*.cruds", "user/*.cruds", "patient/*.rs", "patient/Appointment.cu",
            "launch/patient", "offline_access", "online_access",
        ],
        "capabilities": [
            "client-confidential-asymmetric", "permission-v2", "launch-standalone",
            "client-public", "context-standalone-patient", "authorize-post",
            "permission-offline", "permission-patient",
        ],
    }  # fmt: skip
