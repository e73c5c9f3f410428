"""OAuth 2.0 token endpoint (SMART Backend Services) and SMART discovery."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hub.audit.service import AuditEntry, record_standalone
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.auth.service import (
    OAuthError,
    exchange_client_assertion,
    get_issuer,
    load_signing_key,
)
from hub.auth.signing_keys import public_jwks
from hub.auth.smart_app import APP_GRANT_TYPES, app_token
from hub.auth.smart_app import router as smart_app_router
from hub.db import session_scope
from hub.fhir.capability import smart_configuration
from hub.settings import get_settings

router = APIRouter(tags=["Authorization"])
router.include_router(smart_app_router)  # patient apps: authorize, login, their grants
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post(
    "/auth/token",
    summary="Exchange a signed client assertion (RFC 7523) for an access token",
    responses={400: {"description": "OAuth error"}, 401: {"description": "invalid_client"}},
)
async def token(request: Request) -> JSONResponse:
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    if form.get("grant_type") in APP_GRANT_TYPES:
        return await app_token(form, request.client.host if request.client else None)
    settings = get_settings()
    try:
        from starlette.concurrency import run_in_threadpool

        def run() -> dict[str, object]:
            with session_scope() as session:
                grant = exchange_client_assertion(
                    session, form, token_url=settings.token_url, issuer=get_issuer()
                )
            body: dict[str, object] = {
                "access_token": grant.access_token,
                "token_type": "bearer",
                "expires_in": grant.expires_in,
                "scope": grant.scope,
            }
            if grant.patient:
                body["patient"] = grant.patient
            if grant.purpose_of_use:
                body["purpose_of_use"] = grant.purpose_of_use
            if grant.practitioner:
                body["practitioner"] = grant.practitioner
            return body

        return JSONResponse(await run_in_threadpool(run), headers=NO_STORE)
    except OAuthError as exc:
        actor = Actor.build(
            client_id="anonymous",
            facility="-",
            role=Role.patient,
            scope="",
            source_address=request.client.host if request.client else None,
        )
        record_standalone(
            AuditEntry(
                actor, "token", None, outcome="4", outcome_text=f"{exc.error}: {exc.description}"
            )
        )
        return JSONResponse(
            {"error": exc.error, "error_description": exc.description},
            status_code=exc.status,
            headers=NO_STORE,
        )


@router.get("/.well-known/smart-configuration", summary="SMART discovery document")
def smart_config() -> JSONResponse:
    return JSONResponse(smart_configuration(get_settings()))


@router.get("/auth/jwks", summary="The hub's public token-signing keys")
def jwks() -> JSONResponse:
    return JSONResponse(public_jwks(load_signing_key(get_settings())))
