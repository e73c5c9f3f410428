"""ASGI entry point: ``uvicorn hub.asgi:app``."""

from __future__ import annotations

import logging

from hub.app import create_app
from hub.server import _PathOnly

logging.getLogger("uvicorn.access").addFilter(_PathOnly())
app = create_app()
