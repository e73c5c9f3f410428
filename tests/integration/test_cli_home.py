"""``hub`` as a user runs it from any folder (issue 12): every command finds the same home, so
the same database and signing key; it names them on stderr; a database it cannot use is one line;
``hub demo --port`` leaves tokens the server on that port accepts; ``hub demo --reset``.

Each test has a home of its own under tmp_path (``HUB_HOME``), never the checkout's var/.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from hub.auth.access_tokens import TokenIssuer
from hub.fhir.models import ResourceRow
from hub.home import checkout_root
from tests.integration.hub_cli import HUB, run_hub
from tests.postgres import create_database, drop_database

SECRET = "s3cret-pw"


def _home_env(home: Path, **settings: str) -> dict[str, str]:
    """This process's environment without its HUB_ settings: a dev hub living in ``home``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("HUB_")}
    env.update({"HUB_HOME": str(home), "HUB_ENVIRONMENT": "test", **settings})
    return env


def _folders(tmp_path: Path, *names: str) -> list[Path]:
    folders = [tmp_path / name for name in names]
    for folder in folders:
        folder.mkdir()
    return folders


def _startup_line(stderr: str) -> str:
    (line,) = [line for line in stderr.splitlines() if line.startswith("hub: home ")]
    return line


def _patient_ids(database: Path) -> set[str]:
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            query = sa.select(ResourceRow.resource_id).where(
                ResourceRow.resource_type == "Patient", ResourceRow.deleted.is_(False)
            )
            return set(conn.execute(query).scalars())
    finally:
        engine.dispose()


def _claims(token: str, home: Path) -> dict[str, object]:
    """The token's claims, verified with the signing key in the home's var dir."""
    key = json.loads((home / "var" / "signing_key.jwk.json").read_text())
    payload = token.split(".")[1]
    claims: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    issuer = TokenIssuer(key, issuer=str(claims["iss"]), audience=str(claims["aud"]))
    issuer.verify(token)  # raises unless this key signed it (for the issuer it names)
    return claims


def test_commands_from_any_folder_use_the_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".env").write_text("HUB_TOKEN_TTL_SECONDS=900\n")  # found in the home, not the cwd
    setup_dir, token_dir, list_dir = _folders(tmp_path, "setup", "tokens", "lists")
    env = _home_env(home)

    demo = run_hub("demo", "--no-serve", "--residents", "5", env=env, cwd=setup_dir)
    assert demo.returncode == 0, demo.stderr
    token = run_hub("token", "--facility", "H001", "--role", "practitioner", env=env, cwd=token_dir)
    assert token.returncode == 0, token.stderr
    listed = run_hub("clients", "list", env=env, cwd=list_dir)
    assert listed.returncode == 0, listed.stderr

    database = f"database sqlite:///{home / 'var' / 'hub.db'}"
    key = f"signing key {home / 'var' / 'signing_key.jwk.json'} (dev)"
    for result in (demo, token, listed):
        line = _startup_line(result.stderr)
        assert f"home {home} (+ .env)" in line
        assert database in line
        assert key in line
    assert token.stdout.count(".") == 2 and len(token.stdout.split()) == 1  # only the token
    claims = _claims(token.stdout.strip(), home)
    assert claims["exp"] == claims["iat"] + 900  # type: ignore[operator]
    assert len(_patient_ids(home / "var" / "hub.db")) == 5
    assert not any((folder / "var").exists() for folder in (setup_dir, token_dir, list_dir))


def test_default_home_is_the_checkout_from_any_folder(tmp_path: Path) -> None:
    root = checkout_root()
    assert root is not None and (root / "pyproject.toml").is_file()
    assert Path(str(HUB)).parent.parent.parent == root  # this test runs the checkout's .venv
    env = {name: value for name, value in os.environ.items() if not name.startswith("HUB_")}
    env["HUB_SIGNING_KEY"] = os.environ["HUB_SIGNING_KEY"]  # nothing generated into ./var
    env["HUB_ENVIRONMENT"] = "test"
    args = ("token", "--facility", "H001", "--role", "practitioner")
    elsewhere = run_hub(*args, env=env, cwd=tmp_path)
    at_root = run_hub(*args, env=env, cwd=root)
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert at_root.returncode == 0, at_root.stderr
    line = _startup_line(elsewhere.stderr)
    assert line.startswith(f"hub: home {root}")
    assert "signing key HUB_SIGNING_KEY" in line
    assert line == _startup_line(at_root.stderr)
    assert not (tmp_path / "var").exists()


def test_startup_line_masks_the_password_and_can_be_silenced(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://hub:{SECRET}@127.0.0.1:1/hub"  # nothing listens on port 1
    env = _home_env(tmp_path, HUB_DATABASE_URL=url)
    token = run_hub("token", "--facility", "H001", "--role", "practitioner", env=env)
    assert token.returncode == 0, token.stderr
    assert "database postgresql+psycopg://hub:***@127.0.0.1:1/hub" in token.stderr
    assert SECRET not in token.stderr + token.stdout

    for quiet_env, args in ((env, ("--quiet",)), ({**env, "HUB_QUIET": "1"}, ())):
        quiet = run_hub(*args, "token", "--facility", "H001", "--role", "patient", env=quiet_env)
        assert quiet.returncode == 2  # a patient token needs --patient
        assert "hub: home" not in quiet.stderr
        assert "--patient" in quiet.stderr

    unreachable = run_hub("clients", "list", env=env)
    assert unreachable.returncode == 1
    assert "Traceback" not in unreachable.stderr
    problem = unreachable.stderr.splitlines()[-1]
    assert problem.startswith("hub: cannot open database postgresql+psycopg://hub:***@127.0.0.1:1")
    assert SECRET not in unreachable.stderr


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    """A database with no schema: an SQLite file, or a fresh PostgreSQL database when the
    suite runs on PostgreSQL."""
    server = os.environ.get("HUB_TEST_DATABASE_URL", "")
    if not server.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name, url = create_database(server)
    try:
        yield url
    finally:
        drop_database(server, name)


def test_unmigrated_database_is_one_line(tmp_path: Path, empty_database: str) -> None:
    env = _home_env(tmp_path / "home", HUB_DATABASE_URL=empty_database)
    for args in (("messages", "list"), ("clients", "list"), ("serve", "--port", "1")):
        result = run_hub(*args, env=env, cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        problem = result.stderr.splitlines()[-1]
        assert problem.startswith("hub: database ")
        assert "has no schema: run `hub db upgrade`" in problem

    upgraded = run_hub("db", "upgrade", env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    listed = run_hub("clients", "list", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr


def test_bad_settings_are_one_line(tmp_path: Path) -> None:
    env = _home_env(tmp_path, HUB_AUDIT_RETENTION_DAYS="30")
    result = run_hub("clients", "list", env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "hub: configuration: HUB_AUDIT_RETENTION_DAYS is 30: audit records must be kept at "
        "least 183 days (six months)"
    ]


def test_demo_reset_removes_and_rebuilds(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _home_env(home)
    database = home / "var" / "hub.db"
    key_file = home / "var" / "signing_key.jwk.json"
    first = run_hub("demo", "--no-serve", "--residents", "20", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    added = run_hub("seed", "--population", "3", "--population-seed", "7", env=env, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    before = _patient_ids(database)
    assert len(before) == 23 and "res-7-0000001" in before
    token_args = ("token", "--facility", "H001", "--role", "practitioner")
    assert run_hub(*token_args, env=env).returncode == 0  # generates the dev signing key
    key_before = key_file.read_text()

    again = run_hub("demo", "--no-serve", "--residents", "20", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert _patient_ids(database) == before  # without --reset nothing is lost

    reset = run_hub("demo", "--reset", "--no-serve", "--residents", "20", env=env, cwd=tmp_path)
    assert reset.returncode == 0, reset.stderr
    said = " ".join(reset.stderr.split())
    assert f"--reset: deleting {database}" in said
    assert f"--reset: deleting {key_file}" in said
    after = _patient_ids(database)
    assert len(after) == 20
    assert not any(patient_id.startswith("res-7-") for patient_id in after)
    assert not key_file.exists()
    token = run_hub(*token_args, env=env)
    assert token.returncode == 0, token.stderr
    assert key_file.read_text() != key_before  # a new dev key, which signed the new token
    _claims(token.stdout.strip(), home)


def test_demo_reset_refuses_a_server_database(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "var").mkdir(parents=True)
    kept = home / "var" / "signing_key.jwk.json"
    kept.write_text("{}")
    server = os.environ.get("HUB_TEST_DATABASE_URL", "")
    if not server.startswith("postgresql"):
        server = f"postgresql+psycopg://hub:{SECRET}@127.0.0.1:1/hub"
    refused = run_hub("demo", "--reset", "--no-serve", env=_home_env(home, HUB_DATABASE_URL=server))
    assert refused.returncode == 2
    problem = refused.stderr.splitlines()[-1]
    assert problem.startswith("hub: refusing --reset: postgresql")
    assert "never drops a server database" in problem
    assert kept.exists()

    # Production (whose settings the test environment holds, keys and all) is refused first.
    production = {**os.environ, "HUB_HOME": str(home), "HUB_ENVIRONMENT": "production"}
    production["HUB_DATABASE_URL"] = server
    refused = run_hub("demo", "--reset", "--no-serve", env=production)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.splitlines()[-1] == (
        "hub: refusing --reset with HUB_ENVIRONMENT=production"
    )
    assert kept.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_serving(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "hub serve exited"
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError(f"{base} did not answer within 60 s")


def test_demo_port_leaves_tokens_the_server_accepts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    setup_dir, token_dir, serve_dir = _folders(tmp_path, "setup", "tokens", "serve")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = _home_env(home)
    demo = run_hub(
        "demo", "--no-serve", "--residents", "3", "--port", str(port), env=env, cwd=setup_dir
    )
    assert demo.returncode == 0, demo.stderr
    assert f"{base}/fhir/Patient" in demo.stdout

    args = ("token", "--facility", "H001", "--role", "practitioner")
    token = run_hub(*args, env=env, cwd=token_dir)
    assert token.returncode == 0, token.stderr
    assert f"issuer {base} (recorded in {home / 'var' / 'public_base_url'})" in token.stderr
    claims = _claims(token.stdout.strip(), home)
    assert claims["iss"] == base
    assert claims["aud"] == f"{base}/fhir"
    # The same key, but the default issuer: the check the recorded URL spares the user.
    other = run_hub(*args, env={**env, "HUB_PUBLIC_BASE_URL": "http://127.0.0.1:8000"})
    assert other.returncode == 0, other.stderr

    server = subprocess.Popen(
        [str(HUB), "--quiet", "serve", "--port", str(port)],
        cwd=serve_dir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_serving(base, server)
        accepted = httpx.get(
            f"{base}/fhir/Patient",
            params={"_count": "1"},
            headers={"Authorization": f"Bearer {token.stdout.strip()}"},
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["resourceType"] == "Bundle"
        refused = httpx.get(
            f"{base}/fhir/Patient",
            params={"_count": "1"},
            headers={"Authorization": f"Bearer {other.stdout.strip()}"},
        )
        assert refused.status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_ctrl_c_stops_the_demo_and_keeps_its_data(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port, mllp_port = _free_port(), _free_port()
    args = ["--port", str(port), "--mllp-port", str(mllp_port), "--residents", "3"]
    demo = subprocess.Popen(
        [str(HUB), "--quiet", "demo", *args],
        cwd=tmp_path,
        env=_home_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_serving(f"http://127.0.0.1:{port}", demo)
        assert _answers(mllp_port)
        demo.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert demo.wait(timeout=30) is not None
    finally:
        if demo.poll() is None:
            demo.kill()
    assert not _answers(port) and not _answers(mllp_port)  # nothing left running
    assert len(_patient_ids(home / "var" / "hub.db")) == 3
