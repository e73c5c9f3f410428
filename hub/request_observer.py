"""ASGI middleware around every API request: its id (hub/request_log.py) and its metrics.

Requests are counted and timed by route *template* (``/fhir/{resource_type}/{resource_id}``),
never the concrete path, so the labels stay few and carry no identifiers.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.request_log import REQUEST_ID_HEADER, request_id_from, reset_request_id, set_request_id

REQUESTS = Counter(
    "hub_http_requests", "API requests answered, by route template and status", ["route", "status"]
)
LATENCY = Histogram(
    "hub_http_request_duration_seconds",
    "API request latency until the response starts, by route template",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UNMATCHED = "unmatched"  # no route: 404s for made-up paths share one label


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None) if isinstance(route, BaseRoute) else None
    return path if isinstance(path, str) else UNMATCHED


class RequestObserver:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(REQUEST_ID_HEADER.encode())
        request_id = request_id_from(given.decode("latin-1") if given else None)
        token = set_request_id(request_id)
        started = time.perf_counter()
        status = 500  # unless a response starts

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
                LATENCY.labels(route_template(scope)).observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUESTS.labels(route_template(scope), str(status)).inc()
            reset_request_id(token)
