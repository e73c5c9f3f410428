"""Sending a patient their one-time login code: a Protocol, chosen by a setting.

The demo's notifier (``HUB_PATIENT_CODE_NOTIFIER=log``) writes the code to the hub's log, keyed
by the login request, never with the resident ID. Production never uses it: a production hub
without a gateway answers the login with 503. An SMS gateway implements :class:`CodeNotifier`
and is registered in :data:`NOTIFIERS`.
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


class NotifierUnavailable(Exception):
    """No way to send codes here: an unknown notifier, or the demo's in production."""


def get_notifier(name: str, *, production: bool) -> CodeNotifier:
    if name == DEMO_NOTIFIER and production:
        raise NotifierUnavailable("the demo's log notifier does not send codes in production")
    try:
        return NOTIFIERS[name]()
    except KeyError:
        raise NotifierUnavailable(f"unknown patient code notifier {name!r}") from None
