"""Domain exceptions, translated at the edge (HTTP: OperationOutcome; CLI: exit code).

HubError
 +-- FhirError(status, code)         anything the FHIR API answers with an OperationOutcome
      +-- InvalidRequest    400      malformed JSON, parameters, ids, bundles
      +-- InvalidResource   400/422  a resource that does not validate
      +-- Unauthorized      401      missing, expired or foreign token
      +-- Forbidden         403      scope, role, ownership refuses the access
      +-- NotFound          404      unknown type or id
      |    +-- ConsentRefused 404    consent or compartment hides it: answered like an unknown id
      |                              (no enumeration), audited with the consents it rested on
      +-- Gone              410      deleted resource
      +-- MethodNotAllowed  405
      +-- Conflict          409      id clash, several matches for a conditional operation
      +-- PreconditionFailed 412     If-Match on a stale version, ambiguous conditional op
      +-- PayloadTooLarge   413
"""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    pass


class FhirError(HubError):
    status: int = 400
    code: str = "processing"  # OperationOutcome.issue.code (FHIR IssueType)

    def __init__(
        self,
        diagnostics: str,
        *,
        expression: list[str] | None = None,
        status: int | None = None,
        code: str | None = None,
        issues: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        self.expression = expression
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.extra_issues = issues or []

    def outcome(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": "error",
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = self.expression
        return {"resourceType": "OperationOutcome", "issue": [issue, *self.extra_issues]}


class InvalidRequest(FhirError):
    status = 400
    code = "invalid"


class InvalidResource(FhirError):
    status = 400
    code = "invalid"


class Unauthorized(FhirError):
    status = 401
    code = "login"


class Forbidden(FhirError):
    status = 403
    code = "forbidden"


class NotFound(FhirError):
    status = 404
    code = "not-found"


def not_available(reference: str) -> str:
    """The one answer for an id that does not exist and for one the caller may not see."""
    return (
        f"{reference[:140]} is not known, or not available to this caller (consent); in an "
        "emergency, a token with purpose ETREAT and a reason gives audited access"
    )


class ConsentRefused(NotFound):
    """The consent decision (or the patient compartment) denies the access. Answered exactly like
    an unknown id (:func:`not_available`), so refusals cannot tell which ids exist; carries what
    the refusal's audit record names."""

    def __init__(
        self, diagnostics: str, *, resources: list[str], patients: list[str], consents: list[str]
    ) -> None:
        super().__init__(diagnostics)
        self.resources = resources
        self.patients = patients
        self.consents = consents


class Gone(FhirError):
    status = 410
    code = "deleted"


class MethodNotAllowed(FhirError):
    status = 405
    code = "not-supported"


class Conflict(FhirError):
    status = 409
    code = "conflict"


class PreconditionFailed(FhirError):
    status = 412
    code = "conflict"


class PayloadTooLarge(FhirError):
    status = 413
    code = "too-costly"


def outcome_info(message: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational", "diagnostics": message}],
    }
