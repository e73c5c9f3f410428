"""Sending a patient their one-time login code: a Protocol, chosen by a setting.

The demo's notifier (``HUB_PATIENT_CODE_NOTIFIER=log``, refused in production) writes the code
to the hub's log, keyed by the login request, never with the resident ID. Production plugs in an
SMS gateway: implement :class:`CodeNotifier` and register it in :data:`NOTIFIERS`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("hub.auth.patient_login")
DEMO_NOTIFIER = "log"


class CodeNotifier(Protocol):
    def send_code(self, *, patient_id: str, login_request: str, code: str) -> None:
        """Deliver ``code`` to the person of Patient ``patient_id`` (their phone)."""


class LogNotifier:
    """The demo's: the code goes to the hub's log, where the demo (and the tests) read it."""

    def send_code(self, *, patient_id: str, login_request: str, code: str) -> None:
        log.warning("patient login %s: one-time code %s", login_request, code)


NOTIFIERS: dict[str, Callable[[], CodeNotifier]] = {DEMO_NOTIFIER: LogNotifier}


def get_notifier(name: str) -> CodeNotifier:
    try:
        return NOTIFIERS[name]()
    except KeyError:
        raise ValueError(f"unknown patient code notifier {name!r}") from None
