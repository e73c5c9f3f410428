"""Resource validation with fhir.resources.

The hub speaks FHIR R4 (4.0.1) on the wire. fhir.resources ships R4B models, which accept the R4
resources we serve (R4B changed a few elements of resources outside our registry and the
medication/subscription areas in ways that do not break R4 payloads; see README). We validate
with the R4B model and store the client's JSON as sent, never the model's re-serialisation, so an
R4 payload leaves the hub exactly as it came in (plus id and meta).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from hub.errors import InvalidResource

MAX_REPORTED_ISSUES = 20


@lru_cache(maxsize=256)
def _model_class(resource_type: str) -> Any:
    return get_fhir_model_class(resource_type)


def _location(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def validate_resource(resource_type: str, body: dict[str, Any]) -> None:
    """Raise InvalidResource (with one issue per problem) unless ``body`` is a valid resource."""
    try:
        _model_class(resource_type).model_validate(body)
    except ValidationError as exc:
        errors = exc.errors()
        issues = [
            {
                "severity": "error",
                "code": "invalid" if err.get("type") != "missing" else "required",
                "diagnostics": f"{_location(err['loc']) or resource_type}: {err['msg']}",
                "expression": [f"{resource_type}.{_location(err['loc'])}".rstrip(".")],
            }
            for err in errors[:MAX_REPORTED_ISSUES]
        ]
        first = issues[0]["diagnostics"] if issues else "invalid resource"
        raise InvalidResource(
            f"{resource_type} failed validation ({len(errors)} problem(s)): {first}",
            issues=issues[1:],
        ) from None
    except (TypeError, ValueError) as exc:  # fhir_core raises these for some primitive errors
        raise InvalidResource(f"{resource_type} failed validation: {str(exc)[:300]}") from None
