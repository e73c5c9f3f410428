"""Which policy the hub settles by: the region's own file (``HUB_INSURANCE_POLICY_FILE``) or
the packaged sample, read and validated once. The composition root calls
:func:`configured_policy` at start, so a bad file stops the hub with the field it names,
instead of failing the first cashier.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from hub.settings import get_settings
from insurance.policy import Policy, load_policy


class PolicyFileError(ValueError):
    """The configured policy file cannot be read or is invalid; the message names the field."""


def _where(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path or "(the document)"


def read_policy_file(path: Path) -> Policy:
    """The policy in ``path``; :class:`PolicyFileError` naming the file and each bad field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyFileError(f"insurance policy {path}: cannot read it ({exc.strerror})") from None
    try:
        return load_policy(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_where(tuple(e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise PolicyFileError(f"insurance policy {path}: {problems}") from None


@lru_cache(maxsize=1)
def configured_policy() -> Policy:
    """``HUB_INSURANCE_POLICY_FILE``'s policy, else the packaged SAMPLE policy."""
    path = get_settings().insurance_policy_file
    return load_policy() if path is None else read_policy_file(path)
