"""Property-based contract test: every operation of ``/openapi.json``, fuzzed by Schemathesis.

The app runs in-process (ASGI) against the run's test database. Each operation gets a small,
seeded batch of generated requests (schema-conforming and schema-violating), sent with a real
bearer token, once as an operator (the broadest role) and once as a facility system. Every
response must be a non-5xx whose status, content type and body match what the schema documents.

No operation is excluded: ``/auth/token`` declares no form body, so it only ever sees requests
without a valid assertion and must refuse them cleanly, which is the property worth checking.

Schemathesis' own pytest plugin (``@schema.parametrize()``) is not used: it relies on pytest
internals that pytest 9.2 removed (``Node._nodeid``). Its Hypothesis strategies are public API,
so each operation is one plain pytest case driving ``operation.as_strategy()``.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hub.app import create_app
from hub.auth.roles import DEFAULT_SCOPES, Role

# Small enough for every CI run; raise it locally for a deeper search (same seed, more cases).
MAX_EXAMPLES = int(os.environ.get("HUB_SCHEMATHESIS_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ROLES = {Role.operator: "HUB", Role.facility_system: "H001"}


def _operations() -> list[str]:
    paths = create_app().openapi()["paths"]
    return [f"{method.upper()} {path}" for path, ops in paths.items() for method in ops]


@pytest.fixture(scope="module")
def api_schema(database: str) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", create_app())


def _bearer(role: Role) -> str:
    from hub.auth.service import get_issuer

    token, _ = get_issuer().issue(
        client_id=f"schemathesis-{role.value}",
        facility=ROLES[role],
        role=role,
        scope=DEFAULT_SCOPES[role],
        patient=None,
        purpose_of_use=None,
    )
    return f"Bearer {token}"


@pytest.mark.parametrize("role", list(ROLES), ids=str)
@pytest.mark.parametrize("operation", _operations())
def test_operation_honours_its_schema(api_schema: Any, operation: str, role: Role) -> None:
    method, path = operation.split(" ", 1)
    api = api_schema[path][method]
    headers = {"Authorization": _bearer(role)}
    # Valid and invalid requests; an operation with nothing to violate yields only valid ones.
    strategy = api.as_strategy(GenerationMode.POSITIVE, headers=headers) | api.as_strategy(
        GenerationMode.NEGATIVE, headers=headers
    )
    selected = CHECKS

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,  # the same requests on every run: a CI failure reproduces locally
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        # negative generation filters a lot and some operations have few distinct inputs
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        case.call_and_validate(checks=selected)

    run()


TOO_BIG = str(2**63)  # one past BIGINT: once a 500 from the database driver


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", f"/messages/{TOO_BIG}"),
        ("POST", f"/mpi/merges/{TOO_BIG}/undo"),
        ("POST", f"/mpi/reviews/{TOO_BIG}/claim"),
        ("GET", f"/fhir/Patient/p1/_history/{TOO_BIG}"),
        ("GET", f"/fhir/Patient/_history?_offset={TOO_BIG}"),
        ("GET", f"/mpi/reviews?offset={TOO_BIG}"),
        ("POST", f"/audit/break-glass/{TOO_BIG}/review"),
        ("GET", f"/fhir/Patient/p1/$everything?_offset={TOO_BIG}"),
    ],
)
def test_out_of_range_numbers_are_refused_as_bad_input(
    database: str, method: str, url: str
) -> None:
    from fastapi.testclient import TestClient

    with TestClient(create_app()) as client:
        response = client.request(
            method, url, headers={"Authorization": _bearer(Role.operator)}, json={"reason": "x"}
        )
    assert response.status_code == 400, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "/mpi/links", {"facility": "H1", "source_id": "\x00", "enterprise_id": "E1"}),
        ("GET", "/mpi/links?facility=H001&source_id=%00", None),
        ("GET", "/messages?control_id=%00", None),
        ("GET", "/mpi/persons/%00/links", None),
    ],
)
def test_nul_characters_are_refused_as_bad_input(
    database: str, method: str, url: str, body: dict[str, str] | None
) -> None:
    from fastapi.testclient import TestClient

    with TestClient(create_app()) as client:
        response = client.request(
            method, url, headers={"Authorization": _bearer(Role.operator)}, json=body
        )
    assert response.status_code == 400, response.text
