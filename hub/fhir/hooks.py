"""Transitional alias of :mod:`hub.fhir.write_hooks`, for the importers another branch owns.

``hub/fhir/store.py``, ``consent/hooks.py``, ``referral/hooks.py`` and
``referral/scheduling/hooks.py`` still import from here; once those branches are merged, point
them at :mod:`hub.fhir.write_hooks` and delete this module (and its name in pyproject.toml).
"""

from __future__ import annotations

from hub.fhir.write_hooks import WriteHook, WriteKind, on_write, run_write_hooks

__all__ = ["WriteHook", "WriteKind", "on_write", "run_write_hooks"]
