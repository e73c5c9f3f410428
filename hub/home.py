"""The hub's home: the folder its ``.env``, ``var/`` and relative settings paths are found in.

Every process resolves it the same way, whatever folder it starts in, so ``hub token`` run from
``/tmp`` signs with the key of the hub it talks to and reads the same database:

1. ``HUB_HOME``, when set (relative to the folder it was set in);
2. the repository checkout the ``hub`` package runs from (an editable install): the folder of the
   ``pyproject.toml`` next to the package;
3. otherwise (a package installed from a wheel) the user's data folder,
   ``$XDG_DATA_HOME/yichang-hub`` (by default ``~/.local/share/yichang-hub``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from sqlalchemy.engine import make_url

PROJECT_NAME = "yichang-health-hub"  # pyproject.toml's [project] name


def checkout_root() -> Path | None:
    """The repository checkout holding this package, or None for a wheel install."""
    root = Path(__file__).resolve().parent.parent
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return None
    return root if project.get("name") == PROJECT_NAME else None


def default_home() -> Path:
    """The home when ``HUB_HOME`` is not set: the checkout, else the user's data folder."""
    root = checkout_root()
    if root is not None:
        return root
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "yichang-hub"


def resolve_home(value: str | Path | None) -> Path:
    """``HUB_HOME``'s value made absolute (against the cwd), or the default home."""
    if value is None or str(value).strip() == "":
        return default_home()
    return Path(value).expanduser().resolve()


def under_home(home: Path, path: Path) -> Path:
    """A settings path: absolute as given (``~`` expanded), a relative one under the home."""
    path = path.expanduser()
    return path if path.is_absolute() else home / path


def sqlite_url_under_home(home: Path, url: str) -> str:
    """An SQLite URL's relative file put under the home; other URLs unchanged."""
    database = sqlite_database_file(url)
    if database is None or database.is_absolute():
        return url
    return make_url(url).set(database=str(home / database)).render_as_string(hide_password=False)


def sqlite_database_file(url: str) -> Path | None:
    """The file of an SQLite URL; None for other databases and in-memory SQLite."""
    if not url.startswith("sqlite"):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)
