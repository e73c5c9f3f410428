"""Running the API under uvicorn, with an access log that carries no personal data."""

from __future__ import annotations

import copy
import logging
import os
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG


class PathOnly(logging.Filter):
    """Strip query strings (which may hold identifiers or names) from access-log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            args[2] = str(args[2]).split("?", 1)[0]
            record.args = tuple(args)
        return True


def log_config(log_format: str = "text") -> dict[str, Any]:
    """uvicorn's logging config with the filter on the access handler (each worker applies it);
    ``json``: every line (uvicorn's and the hub's) a JSON object carrying the request id."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["path_only"] = {"()": "hub.server.PathOnly"}
    config["handlers"]["access"]["filters"] = ["path_only"]
    if log_format == "json":
        config["filters"]["request_id"] = {"()": "hub.request_log.RequestIdFilter"}
        for formatter in config["formatters"]:
            config["formatters"][formatter] = {"()": "hub.request_log.JsonFormatter"}
        for handler in config["handlers"].values():
            handler["filters"] = [*handler.get("filters", []), "request_id"]
        # the hub's own loggers (hub.api, hub.health ...) through the same handler
        config["loggers"]["hub"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def worker_count(requested: int, database_url: str) -> int:
    """Worker processes to run: ``requested``, or with 0 one per core. SQLite takes one: its
    writers take turns inside a process (``hub.db.writer_turn``), not across processes."""
    if database_url.startswith("sqlite"):
        return 1
    return requested if requested > 0 else max(1, os.cpu_count() or 1)


def run_server(host: str, port: int, workers: int = 1, log_format: str = "text") -> None:
    uvicorn.run(
        "hub.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=True,
        log_config=log_config(log_format),
    )
