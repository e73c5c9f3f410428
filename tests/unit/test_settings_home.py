"""The settings' home (hub/home.py): found from the package, not the cwd; relative paths, SQLite
files and .env under it; the served URL the demo records; the README lists every setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.home import checkout_root
from hub.settings import Settings, served_url

REPOSITORY = Path(__file__).resolve().parents[2]
PATH_SETTINGS = ("HUB_VAR_DIR", "HUB_DATABASE_URL", "HUB_HOME", "HUB_PUBLIC_BASE_URL")


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cwd outside the checkout, with the test run's path settings unset."""
    for name in PATH_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / ".env").write_text("HUB_DEFAULT_PAGE_SIZE=999\n")  # a cwd's .env is not read
    monkeypatch.chdir(cwd)
    return cwd


def test_default_home_is_the_checkout_whatever_the_cwd(elsewhere: Path) -> None:
    assert checkout_root() == REPOSITORY
    assert Settings().home == REPOSITORY
    # Given here, not by the checkout's .env (a developer's may name another database).
    settings = Settings(var_dir=Path("var"), database_url="")
    assert settings.var_dir == REPOSITORY / "var"
    assert settings.signing_key_file == REPOSITORY / "var" / "signing_key.jwk.json"
    assert settings.effective_database_url == f"sqlite:///{REPOSITORY / 'var' / 'hub.db'}"
    assert settings.default_page_size != 999  # the cwd's .env was not read


def test_relative_paths_resolve_against_the_home(
    elsewhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".env").write_text(
        "HUB_DEFAULT_PAGE_SIZE=25\nHUB_HOME=/somewhere/else\nHUB_CONSENT_POLICY_FILE=policy.json\n"
    )
    monkeypatch.setenv("HUB_HOME", "../home")  # relative to the cwd it was set in
    monkeypatch.setenv("HUB_VAR_DIR", "state")
    monkeypatch.setenv("HUB_DATABASE_URL", "sqlite:///data/hub.db")
    settings = Settings()
    assert settings.home == home
    assert settings.default_page_size == 25  # the home's .env, not the cwd's
    assert settings.var_dir == home / "state"
    assert settings.consent_policy_file == home / "policy.json"
    assert settings.effective_database_url == f"sqlite:///{home / 'data' / 'hub.db'}"

    monkeypatch.setenv("HUB_DATABASE_URL", "sqlite:////srv/hub.db")
    monkeypatch.setenv("HUB_VAR_DIR", "/srv/var")
    absolute = Settings()
    assert absolute.effective_database_url == "sqlite:////srv/hub.db"
    assert absolute.var_dir == Path("/srv/var")


def test_the_served_url_is_used_unless_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_PUBLIC_BASE_URL", raising=False)  # the live hub's, in a full run
    (tmp_path / "public_base_url").write_text("http://127.0.0.1:8001\n")
    recorded = Settings(var_dir=tmp_path)
    assert recorded.public_base_url == "http://127.0.0.1:8001"
    assert recorded.fhir_base_url == "http://127.0.0.1:8001/fhir"
    assert recorded.public_base_url_origin == "served"
    configured = Settings(var_dir=tmp_path, public_base_url="https://hub.example.org")
    assert configured.public_base_url == "https://hub.example.org"
    assert configured.public_base_url_origin == "configured"
    fresh = Settings(var_dir=tmp_path / "none")
    assert (fresh.public_base_url, fresh.public_base_url_origin) == (
        "http://127.0.0.1:8000",
        "default",
    )


def test_served_url_of_a_bind_address() -> None:
    assert served_url("127.0.0.1", 8001) == "http://127.0.0.1:8001"
    assert served_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert served_url("::1", 8000) == "http://[::1]:8000"


def test_the_database_url_is_shown_without_its_password() -> None:
    settings = Settings(database_url="postgresql+psycopg://hub:p%40ss@db.example:5432/hub")
    assert settings.masked_database_url == "postgresql+psycopg://hub:***@db.example:5432/hub"


def _configuration_table_variables(readme: str) -> set[str]:
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `HUB_")]
    return {name for row in rows for name in re.findall(r"`(HUB_[A-Z0-9_]+)`", row.split("|")[1])}


def test_the_readme_configuration_table_lists_every_setting() -> None:
    listed = _configuration_table_variables((REPOSITORY / "README.md").read_text())
    fields = {f"HUB_{name.upper()}" for name in Settings.model_fields}
    assert fields - listed == set(), "README Configuration table misses these settings"
    assert listed - fields - {"HUB_QUIET"} == set(), "README lists settings that do not exist"
