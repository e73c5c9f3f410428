"""Test configuration shared by every suite.

The database comes from ``HUB_TEST_DATABASE_URL``: unset means a fresh SQLite file; a
PostgreSQL URL means a fresh database created on that server for this run and dropped after.
Tests of locking and concurrency run on PostgreSQL either way (``tests.postgres``).
Settings are fixed through the environment before the hub reads them, so the in-process code
and the live server started by the integration tests use the same database and keys.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path

import pytest

from hub.audit.keys import new_checkpoint_key
from hub.auth.signing_keys import generate_signing_key

# imported here, before pytest_plugins registers them: rewrite their asserts all the same
pytest.register_assert_rewrite("tests.live", "tests.postgres", "tests.integration.oidc_provider")
from tests.postgres import create_database, drop_database  # noqa: E402

# The live hub and its clients, and PostgreSQL for the locking tests, for every folder: one
# session-wide server per run (a fixture imported into two conftests would start two, and tokens
# would name the wrong issuer).
pytest_plugins = ["tests.live", "tests.postgres", "tests.integration.oidc_provider"]

_RUN_DIR = Path(tempfile.mkdtemp(prefix="hub-tests-"))
METRICS_TOKEN = secrets.token_urlsafe(32)
EXAMPLES_FACILITY = "H010"
_PG_DB: str | None = None
_PG_ADMIN_URL: str | None = None


def _postgres_database(url: str) -> str:
    """Create a throwaway database on the server of ``url``; return its URL."""
    global _PG_DB, _PG_ADMIN_URL
    _PG_DB, database_url = create_database(url)
    _PG_ADMIN_URL = url
    return database_url


def _configure_environment() -> None:
    test_url = os.environ.get("HUB_TEST_DATABASE_URL", "")
    if test_url.startswith("postgresql"):
        database_url = _postgres_database(test_url)
    else:
        database_url = f"sqlite:///{_RUN_DIR / 'hub.db'}"
    os.environ.update(
        {
            "HUB_ENVIRONMENT": "test",
            "HUB_VAR_DIR": str(_RUN_DIR / "var"),
            "HUB_DATABASE_URL": database_url,
            "HUB_SIGNING_KEY": json.dumps(generate_signing_key("ES256")),
            "HUB_FIELD_KEYS": json.dumps({"k1": secrets.token_urlsafe(32)}),
            "HUB_FIELD_KEY_ID": "k1",
            "HUB_BLIND_INDEX_KEY": secrets.token_urlsafe(32),
            "HUB_AUDIT_HMAC_KEY": secrets.token_urlsafe(32),
            "HUB_AUDIT_CHECKPOINT_KEY": new_checkpoint_key(),  # both required in production
            "HUB_MAX_BODY_BYTES": str(2 * 1024 * 1024),
            "HUB_MAX_BUNDLE_ENTRIES": "200",
            # session-wide clients hold one token for the whole run, which can outlast 5 min
            # (3600 s is the most the settings allow)
            "HUB_TOKEN_TTL_SECONDS": "3600",
            # the static bearer secret a Prometheus scraper would hold (GET /metrics)
            "HUB_METRICS_TOKEN": METRICS_TOKEN,
            # the facility whose writes may reference what the hub does not hold (the official
            # R4 examples name parties that exist only on the server they were written for)
            "HUB_ALLOW_DANGLING_REFERENCES": EXAMPLES_FACILITY,
        }
    )


_configure_environment()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _PG_DB and _PG_ADMIN_URL:
        from hub.db import reset_engine

        reset_engine()
        drop_database(_PG_ADMIN_URL, _PG_DB)


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ["HUB_DATABASE_URL"]
    return f"hub database: {url.split('@')[-1]}"


@pytest.fixture(scope="session")
def database() -> str:
    """The migrated test database (schema applied once per run)."""
    from hub.migrate import upgrade_database
    from hub.seeding import seed_region

    upgrade_database()
    # As `hub seed` does for a deployment: the region's Organizations (and Locations), which
    # references to facilities (Organization/H001) name; writes refuse dangling references.
    seed_region()
    return os.environ["HUB_DATABASE_URL"]


@pytest.fixture(scope="session")
def run_dir() -> Path:
    return _RUN_DIR


@pytest.fixture(scope="session", autouse=True)
def wired() -> None:
    """Hooks and subscribers registered as ``create_app()``, the worker and the CLI do at start:
    tests that write through the store or the patient index directly need them too."""
    from hub.wiring import wire

    wire()
