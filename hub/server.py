"""Running the API under uvicorn, with an access log that carries no personal data."""

from __future__ import annotations

import logging

import uvicorn


class _PathOnly(logging.Filter):
    """Strip query strings (which may hold identifiers or names) from access-log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            args[2] = str(args[2]).split("?", 1)[0]
            record.args = tuple(args)
        return True


def run_server(host: str, port: int, workers: int = 1) -> None:
    logging.getLogger("uvicorn.access").addFilter(_PathOnly())
    uvicorn.run(
        "hub.asgi:app", host=host, port=port, workers=workers, log_level="info", proxy_headers=True
    )
