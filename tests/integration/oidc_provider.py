"""A small OpenID Connect provider for the console's OIDC tests: discovery, an authorization
endpoint that signs in whoever the test says (no form), a token endpoint that checks the
client secret and the PKCE verifier, and its keys. Stdlib HTTP server in a thread.

Fixtures (registered for every folder by the root conftest): ``oidc_provider`` and
``oidc_hub``, a live hub on the run's database whose console signs staff in through it."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from joserfc import jwt
from joserfc.jwk import JWKRegistry

from hub.auth.signing_keys import generate_signing_key, public_jwks
from tests.live import LiveHub, running_hub

CLIENT_ID, CLIENT_SECRET = "hub-console", "console-secret-for-tests"


@dataclass
class Provider:
    issuer: str = ""
    claims: dict[str, Any] = field(default_factory=dict)  # the next sign-in's extra claims
    private_jwk: dict[str, Any] = field(default_factory=lambda: generate_signing_key("RS256"))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tamper: bool = False  # sign the ID token with another key

    def id_token(self, grant: dict[str, str]) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "sub": "person-1", "iat": now,
                  "exp": now + 300, "nonce": grant["nonce"], **self.claims}  # fmt: skip
        jwk = generate_signing_key("RS256") if self.tamper else self.private_jwk
        key = JWKRegistry.import_key(jwk)
        header = {"alg": "RS256", "kid": self.private_jwk["kid"]}
        return jwt.encode(header, claims, key)


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _json(self, body: dict[str, Any], status: int = 200) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/.well-known/openid-configuration":
                base = provider.issuer
                endpoints = {"authorization_endpoint": "authorize", "token_endpoint": "token",
                             "jwks_uri": "jwks"}  # fmt: skip
                self._json({"issuer": base} | {k: f"{base}/{v}" for k, v in endpoints.items()})
            elif url.path == "/jwks":
                self._json(public_jwks(provider.private_jwk))
            elif url.path == "/authorize":
                asked = {k: v[0] for k, v in parse_qs(url.query).items()}
                code = secrets.token_urlsafe(16)
                provider.codes[code] = asked
                back = urlencode({"code": code, "state": asked["state"]})
                self.send_response(302)
                self.send_header("Location", f"{asked['redirect_uri']}?{back}")
                self.end_headers()
            else:
                self._json({"error": "not found"}, 404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {basic}":
                self._json({"error": "invalid_client"}, 401)
                return
            grant = provider.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "").encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
            if grant is None or grant["code_challenge"] != challenge.decode():
                self._json({"error": "invalid_grant"}, 400)
                return
            self._json({"access_token": "x", "token_type": "Bearer",
                        "id_token": provider.id_token(grant)})  # fmt: skip

    return Handler


@contextmanager
def running_provider() -> Iterator[Provider]:
    provider = Provider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.issuer = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Provider]:
    with running_provider() as running:
        yield running


@pytest.fixture(scope="session")
def oidc_hub(database: str, oidc_provider: Provider, run_dir: Path) -> Iterator[LiveHub]:
    """A live hub (the run's database) whose console signs staff in through the provider."""
    env = dict(os.environ, HUB_CONSOLE_OIDC_ISSUER=oidc_provider.issuer,
               HUB_CONSOLE_OIDC_CLIENT_ID=CLIENT_ID,
               HUB_CONSOLE_OIDC_CLIENT_SECRET=CLIENT_SECRET)  # fmt: skip
    with running_hub(env, run_dir / "server-oidc.log") as hub:
        yield hub
