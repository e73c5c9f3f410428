"""A patient app driving SMART App Launch over HTTP (standalone launch, PKCE), for the tests."""

from __future__ import annotations

import base64
import hashlib
import random
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hub.db import session_scope
from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.mpi.matching.identifiers import check_digit
from tests.live import LiveHub

REDIRECT_URI = "http://127.0.0.1:9/callback"


def register_app(scope: str | None = None) -> str:
    from hub.auth.smart_app import register_public_client

    with session_scope() as session:
        return register_public_client(session, redirect_uris=[REDIRECT_URI], scope=scope).client_id


def new_resident_id() -> str:
    rng = random.Random(uuid.uuid4().hex)
    first17 = f"420502{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first17 += f"{rng.randint(0, 999):03d}"
    return first17 + check_digit(first17)


def new_person_record(api: httpx.Client, resident_id: str, name: tuple[str, str]) -> str:
    """A Patient record carrying the resident ID (as a facility registers it)."""
    birth = f"{resident_id[6:10]}-{resident_id[10:12]}-{resident_id[12:14]}"
    body = {
        "resourceType": "Patient",
        "identifier": [{"system": RESIDENT_ID_SYSTEM, "value": resident_id}],
        "name": [{"family": name[0], "given": [name[1]]}],
        "gender": "female" if int(resident_id[16]) % 2 == 0 else "male",
        "birthDate": birth,
    }
    response = api.post("/Patient", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match is not None, f"no {name} on the page"
    return match.group(1)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class PatientApp:
    """One app installation: its browser (cookies) and its PKCE secret."""

    base_url: str
    fhir_url: str
    client_id: str
    log_path: Path
    verifier: str = ""
    challenge: str = ""
    state: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    browser: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.verifier, self.challenge = pkce_pair()
        self.browser = httpx.Client(base_url=self.base_url, timeout=30, follow_redirects=False)

    def authorize_params(self, **changes: str) -> dict[str, str]:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "launch/patient openid offline_access patient/*.rs patient/Appointment.cu",
            "state": self.state,
            "aud": self.fhir_url,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
        }
        return params | changes

    def authorize(self, **changes: str) -> httpx.Response:
        return self.browser.get("/auth/authorize", params=self.authorize_params(**changes))

    def ask_code(self, page: str, resident_id: str) -> httpx.Response:
        form = {
            "login_request": hidden(page, "login_request"),
            "csrf_token": hidden(page, "csrf_token"),
            "resident_id": resident_id,
        }
        return self.browser.post("/auth/login/code", data=form)

    def one_time_code(self, page: str) -> str:
        """The code the demo notifier wrote to the hub's log for this login request."""
        tag = hidden(page, "login_request")[:8]
        pattern = re.compile(rf"patient login {re.escape(tag)}: one-time code (\d{{6}})")
        for _ in range(50):
            found = pattern.findall(self.log_path.read_text(errors="replace"))
            if found:
                return str(found[-1])
            time.sleep(0.1)
        raise AssertionError("the notifier wrote no code")

    def verify(self, page: str, code: str) -> httpx.Response:
        form = {
            "login_request": hidden(page, "login_request"),
            "csrf_token": hidden(page, "csrf_token"),
            "code": code,
        }
        return self.browser.post("/auth/login/verify", data=form)

    def log_in(self, resident_id: str) -> str:
        """authorize -> resident ID -> one-time code: the authorization code."""
        login = self.authorize()
        assert login.status_code == 200, login.text
        code_page = self.ask_code(login.text, resident_id)
        assert code_page.status_code == 200, code_page.text
        redirect = self.verify(code_page.text, self.one_time_code(code_page.text))
        assert redirect.status_code == 302, redirect.text
        location = redirect.headers["location"]
        assert location.startswith(REDIRECT_URI)
        values = query_of(location)
        assert values["state"] == self.state
        return values["code"]

    def token(self, **form: str) -> httpx.Response:
        return self.browser.post("/auth/token", data={"client_id": self.client_id} | form)

    def redeem(self, code: str, verifier: str | None = None) -> httpx.Response:
        return self.token(
            grant_type="authorization_code",
            code=code,
            redirect_uri=REDIRECT_URI,
            code_verifier=verifier or self.verifier,
        )

    def fhir(self, access_token: str) -> httpx.Client:
        headers = {
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/fhir+json",
        }
        return httpx.Client(base_url=self.fhir_url, headers=headers, timeout=30)


def searchset_ids(bundle: dict[str, Any]) -> set[str]:
    return {str(e["resource"]["id"]) for e in bundle.get("entry", []) if "resource" in e}


@pytest.fixture
def make_app(live_hub: LiveHub) -> Iterator[Callable[[], PatientApp]]:
    """Patient apps, each freshly registered (its own rate-limit key), closed after the test."""
    apps: list[PatientApp] = []

    def make() -> PatientApp:
        app = PatientApp(live_hub.base_url, live_hub.fhir_url, register_app(), live_hub.log_path)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.browser.close()
