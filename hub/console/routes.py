"""The console's router: sign-in, the static files, and each area's pages (one line each)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from hub.console.errors import (
    CONSOLE_PREFIX,
    ConsoleRefused,
    SignInRequired,
    refused_page,
    sign_in_redirect,
)
from hub.console.oidc_pages import router as oidc_router
from hub.console.pages import auditor, desk, doctor, operator, steward
from hub.console.sign_in import router as sign_in_router

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter()
router.include_router(sign_in_router)
router.include_router(oidc_router)
router.include_router(doctor.router)
router.include_router(desk.router)
router.include_router(operator.router)
router.include_router(steward.router)
router.include_router(auditor.router)


def add_console(app: FastAPI) -> None:
    """Mount the console on ``app``: its pages, its own files (no CDN) and its error pages."""
    app.include_router(router)
    app.mount(f"{CONSOLE_PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    app.add_exception_handler(ConsoleRefused, refused_page)
    app.add_exception_handler(SignInRequired, sign_in_redirect)
