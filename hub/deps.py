"""FastAPI dependencies: the caller's identity, the request body, and the unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import orjson
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.auth.access_tokens import InvalidTokenError
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.auth.service import get_issuer
from hub.db import session_scope
from hub.errors import InvalidRequest, PayloadTooLarge, Unauthorized
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import get_settings

ANONYMOUS = Actor.build(client_id="anonymous", facility="-", role=Role.patient, scope="")
# Row ids are BIGINTs: a larger number cannot name a row and overflows the database driver (500).
MAX_ROW_ID = 2**63 - 1
MAX_OFFSET = 10_000_000  # the same bound as FHIR search's _offset
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
# PostgreSQL text cannot hold NUL (a 500 from the driver); no code or reason needs one.
NO_NUL = r"^[^\x00]*$"


bearer_scheme = HTTPBearer(
    auto_error=False,
    description="Access token from /auth/token (SMART Backend Services client credentials)",
)


async def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Actor:
    # async on purpose: no I/O here, so FastAPI runs it on the event loop, not a worker thread.
    token = credentials.credentials if credentials else ""
    if not credentials or credentials.scheme.lower() != "bearer" or not token:
        raise Unauthorized("a bearer token is required (see /.well-known/smart-configuration)")
    try:
        claims = get_issuer().verify(token.strip())
    except InvalidTokenError as exc:
        if exc.signed_claims is not None:
            request.state.actor = _refused_actor(exc.signed_claims, request)
        raise Unauthorized(f"invalid access token: {exc}") from None
    actor = Actor.build(
        client_id=claims.client_id,
        facility=claims.facility,
        role=claims.role,
        scope=claims.scope,
        patient=claims.patient,
        # Only the signed claim counts (IHE IUA): a header could claim break-glass unchecked.
        purpose_of_use=claims.purpose_of_use,
        purpose_reason=claims.purpose_reason,
        practitioner=claims.practitioner,
        source_address=request.client.host if request.client else None,
    )
    request.state.actor = actor
    return actor


def _refused_actor(claims: dict[str, Any], request: Request) -> Actor | None:
    """Who a refused token signed by the hub (an expired one) was issued to, for the audit log.

    The actor is granted nothing; it only names the client on the refusal's audit record.
    """
    client_id, facility, role = claims.get("sub"), claims.get("facility"), claims.get("role")
    if not (isinstance(client_id, str) and isinstance(facility, str) and role in set(Role)):
        return None
    return Actor.build(
        client_id=client_id[:128],
        facility=facility[:64],
        role=Role(str(role)),
        scope="",
        source_address=request.client.host if request.client else None,
    )


CurrentActor = Annotated[Actor, Depends(current_actor)]


async def read_body(request: Request) -> bytes:
    """The request body, refused (413) beyond ``max_body_bytes`` without reading further."""
    limit = get_settings().max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is larger than the {limit}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is larger than the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def json_body(request: Request) -> Any:
    """The parsed JSON body, refused (400) when empty, malformed or nested deeper than
    ``max_json_depth``: validation and indexing recurse once per level, so a deep body is
    turned away here, before any of them runs."""
    raw = await read_body(request)
    if not raw.strip():
        raise InvalidRequest("the request has no body")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from None
    depth = get_settings().max_json_depth
    if nested_deeper_than(body, depth):
        raise InvalidRequest(
            f"the body nests JSON objects and arrays too deep (at most {depth} levels)",
            code="too-costly",
        )
    return body


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` holds objects and arrays more than ``limit`` levels deep (a scalar is
    level 0, ``{}`` level 1). Level by level, without recursion: the check must not itself
    exhaust the stack it protects."""
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below = []
        for node in level:
            for child in node.values() if isinstance(node, dict) else node:
                if isinstance(child, dict | list):
                    below.append(child)
        level = below
    return False


JsonBody = Annotated[Any, Depends(json_body)]


@contextmanager
def unit_of_work(actor: Actor) -> Iterator[FhirStore]:
    """One transaction per request: audit rows are flushed into it, then it commits."""
    with session_scope() as session:
        yield FhirStore(session, actor, get_cipher(), get_settings().fhir_base_url)
