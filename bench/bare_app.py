"""The framework ceiling for bench/fhir_api.py: a bare FastAPI app under the same uvicorn.

``GET /ping`` returns a small JSON object; ``POST /ping`` parses a JSON body first. Nothing else:
no auth, no database, no audit, so its throughput is what FastAPI and uvicorn alone allow.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request, Response

app = FastAPI()
_PONG = orjson.dumps({"status": "ok"})


@app.get("/ping")
async def ping() -> Response:
    return Response(_PONG, media_type="application/json")


@app.post("/ping")
async def ping_body(request: Request) -> Response:
    body: Any = orjson.loads(await request.body())
    return Response(
        orjson.dumps({"status": "ok", "keys": len(body)}), media_type="application/json"
    )
