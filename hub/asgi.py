"""ASGI entry point: ``uvicorn hub.asgi:app`` (``hub serve`` adds the log filter itself)."""

from __future__ import annotations

import logging

from hub.app import create_app
from hub.server import PathOnly

# Also when started by a bare `uvicorn hub.asgi:app`: keep query strings out of the access log.
logging.getLogger("uvicorn.access").addFilter(PathOnly())
app = create_app()
