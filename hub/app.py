"""The ASGI application: routers, and every error normalised into an OperationOutcome here."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub import __version__
from hub.audit.service import AuditEntry, record_standalone
from hub.audit.views import router as audit_router
from hub.auth.actor import Actor
from hub.auth.views import router as auth_router
from hub.console.errors import is_console, status_page
from hub.console.routes import add_console
from hub.deps import ANONYMOUS
from hub.errors import ConsentRefused, FhirError, NotFound
from hub.fhir.everything import router as everything_router
from hub.fhir.responses import fhir_response, outcome_response
from hub.fhir.router import router as fhir_router
from hub.health import router as health_router
from hub.metrics import router as metrics_router
from hub.mpi.lookup.views import router as mpi_interfaces_router
from hub.mpi.stewardship.views import router as mpi_stewardship_router
from hub.request_observer import RequestObserver
from hub.wiring import ADAPTER_ROUTERS, SERVICE_ROUTERS, wire

log = logging.getLogger("hub.api")
DOCS_ASSETS_URL = "/docs/static"  # Swagger UI and ReDoc scripts, styles and icon


def _actor(request: Request) -> Actor:
    actor = getattr(request.state, "actor", None)
    if isinstance(actor, Actor):
        return actor
    host = request.client.host if request.client else None
    return Actor.build(
        client_id=ANONYMOUS.client_id,
        facility="-",
        role=ANONYMOUS.role,
        scope="",
        source_address=host,
    )


def _resource_type(request: Request) -> str | None:
    parts = request.url.path.split("/")
    return parts[2][:64] if len(parts) > 2 and parts[1] == "fhir" and parts[2] else None


def _audit_failure(
    request: Request, status: int, text: str, refused: ConsentRefused | None = None
) -> None:
    interaction = {"GET": "read", "POST": "create", "PUT": "update", "DELETE": "delete"}.get(
        request.method, "operation"
    )
    names = ",".join(sorted({k for k, _ in request.query_params.multi_items()}))
    entry = AuditEntry(
        _actor(request),
        interaction,
        _resource_type(request),
        outcome="8" if status >= 500 else "4",
        outcome_text=f"{status}: {text}"[:255],
        query_params=names or None,
    )
    if refused is not None:  # a consent denial names what was withheld and why
        entry.patients, entry.denied = refused.patients, refused.resources
        entry.decision, entry.consents = "deny", refused.consents
    try:
        record_standalone(entry)
    except Exception:  # the refusal itself must still reach the client
        log.exception("could not write the audit record for a failed request")


def _audit_text(exc: FhirError) -> str:
    """What the audit log keeps of an error: bad-input messages may echo the client's values
    (a resident ID typed into the wrong parameter), so for those only the code and location."""
    if exc.status in (400, 413):
        where = ", ".join(exc.expression or [])
        return f"{exc.code} ({where})" if where else exc.code
    return exc.diagnostics


def _outcome(status: int, code: str, diagnostics: str, **extra: Any) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    issue.update(extra)
    return {"resourceType": "OperationOutcome", "issue": [issue]}


async def _fhir_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    refused = exc if isinstance(exc, ConsentRefused) else None
    text = "refused by consent" if refused is not None else _audit_text(exc)
    _audit_failure(request, exc.status, text, refused)
    if is_console(request):
        return status_page(request, exc.status, exc.diagnostics)
    headers = {"WWW-Authenticate": 'Bearer realm="fhir"'} if exc.status == 401 else None
    return fhir_response(exc.outcome(), exc.status, headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(tuple(e.get("loc", ()))[:2] == ("path", "resource_type") for e in errors):
        return await _fhir_error(
            request, NotFound("resource type is not supported by this server", code="not-supported")
        )
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    text = f"{where}: {first.get('msg', 'invalid request')}"
    _audit_failure(request, 400, f"invalid ({where})")
    if is_console(request):
        return status_page(request, 400, where)
    return fhir_response(_outcome(400, "invalid", text, expression=[where]), 400)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not-found", 405: "not-supported", 401: "login", 403: "forbidden"}.get(
        exc.status_code, "processing"
    )
    _audit_failure(request, exc.status_code, str(exc.detail))
    if is_console(request):
        return status_page(request, exc.status_code, str(exc.detail))
    return fhir_response(_outcome(exc.status_code, code, str(exc.detail)), exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    _audit_failure(request, 500, type(exc).__name__)
    return fhir_response(_outcome(500, "exception", "internal error; see the hub's log"), 500)


def create_app() -> FastAPI:
    wire()  # write hooks and event subscribers, before the first request writes
    # /docs and /redoc load Swagger UI and ReDoc from the hub itself (fastapi-offline ships them):
    # hospital networks often have no internet access, so a CDN would leave the pages blank.
    app = FastAPIOffline(
        static_url=DOCS_ASSETS_URL,
        title="Yichang Regional Health Hub",
        version=__version__,
        description="FHIR R4 (4.0.1) API of the regional health hub. Every call under /fhir "
        "needs a bearer token from /auth/token (SMART Backend Services).",
        # every refusal leaves through the handlers below, as an OperationOutcome
        responses={"4XX": outcome_response("OperationOutcome: the request was refused")},
    )
    app.include_router(auth_router)
    app.include_router(audit_router)  # before the generic router: AuditEvent is served from the log
    app.include_router(mpi_interfaces_router)  # before the generic router: Patient/$match
    app.include_router(everything_router)
    for service_router in SERVICE_ROUTERS:  # before the generic router: Appointment/$find ...
        app.include_router(service_router)
    app.include_router(fhir_router)
    app.include_router(mpi_stewardship_router)
    for adapter_router in ADAPTER_ROUTERS:  # the HL7 v2 message log
        app.include_router(adapter_router)
    app.include_router(metrics_router)
    app.include_router(health_router)
    add_console(app)  # the web console for staff (/console), a client of the same store
    app.add_middleware(RequestObserver)  # outermost: ids and timings cover the error handlers
    app.add_exception_handler(FhirError, _fhir_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)

    return app
