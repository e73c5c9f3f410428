"""A live hub (uvicorn in a subprocess) on a free loopback port, and clients for it: fixtures
registered for every suite by ``pytest_plugins`` in the root conftest."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hub.auth.access_tokens import TokenIssuer
from hub.auth.purpose import DEFAULT_PURPOSE
from hub.auth.roles import DEFAULT_SCOPES, Role


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class LiveHub:
    base_url: str
    fhir_url: str
    process: subprocess.Popen[bytes]
    log_path: Path


@contextmanager
def running_hub(env: dict[str, str], log_path: Path) -> Iterator[LiveHub]:
    """A hub under uvicorn on a free port with ``env`` (its public URL set to that port)."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "hub.asgi:app", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning"],
            stdout=log,
            stderr=subprocess.STDOUT,
            # The test process sweeps the shared database itself; a live hub sweeping it too
            # would take rows a test is holding back (an inbox message, a pending claim audit):
            # the hub drains only what its own commits wake.
            env={"HUB_WORK_SWEEP_SECONDS": "3600"} | env | {"HUB_PUBLIC_BASE_URL": base},
        )  # fmt: skip
        try:
            _wait_until_healthy(process, base, log_path)
            yield LiveHub(base, f"{base}/fhir", process, log_path)
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_until_healthy(process: subprocess.Popen[bytes], base: str, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hub exited early: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("hub did not start within 30 s")


@pytest.fixture(scope="session")
def live_hub(database: str, run_dir: Path) -> Iterator[LiveHub]:
    from hub.auth.service import get_issuer
    from hub.settings import get_settings

    with running_hub(dict(os.environ), run_dir / "server.log") as hub:
        # the in-process token issuer must name the server's URL
        os.environ["HUB_PUBLIC_BASE_URL"] = hub.base_url
        get_settings.cache_clear()
        get_issuer.cache_clear()
        yield hub


TokenFactory = Callable[..., str]


def token_factory(issuer: Callable[[], TokenIssuer]) -> TokenFactory:
    """Tokens signed by ``issuer()`` (asked at each call: tests may change the settings behind
    it) for any role, facility, scope and purpose."""

    def make(
        role: Role = Role.facility_system,
        facility: str = "H001",
        scope: str | None = None,
        patient: str | None = None,
        client_id: str = "test-client",
        purpose: str | None = None,
    ) -> str:
        token, _ = issuer().issue(
            client_id=client_id,
            facility=facility,
            role=role,
            scope=scope or DEFAULT_SCOPES[role],
            patient=patient,
            # As the token endpoint does: a role's default purpose when none is asked for.
            purpose_of_use=purpose or DEFAULT_PURPOSE[role],
        )
        return token

    return make


def tokens_for(hub: LiveHub) -> TokenFactory:
    """Tokens for a second hub started with ``running_hub``: the same signing key, but its own
    port, so its own issuer and audience."""
    from hub.auth.service import load_signing_key
    from hub.settings import get_settings

    settings = get_settings()
    issuer = TokenIssuer(
        load_signing_key(settings),
        issuer=hub.base_url,
        audience=hub.fhir_url,
        ttl_seconds=settings.token_ttl_seconds,
    )
    return token_factory(lambda: issuer)


@pytest.fixture(scope="session")
def make_token(live_hub: LiveHub) -> TokenFactory:
    from hub.auth.service import get_issuer

    return token_factory(get_issuer)


class FreshToken(httpx.Auth):
    """A bearer token minted again when it is half way to expiry: a session-wide client can
    outlive one token (on a slow machine a pass of the suite took over an hour)."""

    def __init__(self, mint: Callable[[], str], max_age: float = 1800.0) -> None:
        self._mint, self._max_age = mint, max_age
        self._token, self._minted = mint(), time.monotonic()

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        if time.monotonic() - self._minted > self._max_age:
            self._token, self._minted = self._mint(), time.monotonic()
        request.headers.setdefault("Authorization", f"Bearer {self._token}")  # a test's own wins
        yield request


@pytest.fixture(scope="session")
def api(live_hub: LiveHub, make_token: TokenFactory) -> Iterator[httpx.Client]:
    """An HTTP client acting as a facility system with full system scopes."""
    headers = {"Content-Type": "application/fhir+json"}
    auth = FreshToken(lambda: make_token())
    with httpx.Client(base_url=live_hub.fhir_url, headers=headers, auth=auth, timeout=30) as c:
        yield c


@pytest.fixture
def client_for(
    live_hub: LiveHub, make_token: TokenFactory
) -> Iterator[Callable[..., httpx.Client]]:
    clients: list[httpx.Client] = []

    def make(**token_args: object) -> httpx.Client:
        headers = {
            "Authorization": f"Bearer {make_token(**token_args)}",
            "Content-Type": "application/fhir+json",
        }
        client = httpx.Client(base_url=live_hub.fhir_url, headers=headers, timeout=30)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
