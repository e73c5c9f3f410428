"""Audit records of the console's own events: sign-in, sign-out and refusals.

What pages read and change is audited by the store, under the staff member's actor; these are
the events before or around it. A sign-in (or a failure, which changes the failure count) is
recorded in its own transaction's session; a refusal that changes nothing stands alone.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from hub.audit.service import AuditEntry, record_access, record_standalone
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.console.staff import CONSOLE_CLIENT_PREFIX

log = logging.getLogger("hub.console")
SIGN_IN, SIGN_OUT, REFUSED = "console-login", "console-logout", "console-refused"


def unknown_actor(username: str, source_address: str | None) -> Actor:
    """Who a refusal names when nobody is signed in: the name typed, granted nothing."""
    return Actor.build(
        client_id=f"{CONSOLE_CLIENT_PREFIX}{username[:64]}",
        facility="-",
        role=Role.patient,
        scope="",
        source_address=source_address,
    )


def record_event(
    session: Session, actor: Actor, interaction: str, outcome_text: str, *, failed: bool = False
) -> None:
    """An event inside the transaction that makes its change."""
    record_access(
        session, AuditEntry(actor, interaction, outcome="4" if failed else "0",
                            outcome_text=outcome_text[:255])
    )  # fmt: skip


def record_refusal(actor: Actor, outcome_text: str, status: int = 403) -> None:
    """A refusal that changed nothing, in a transaction of its own."""
    entry = AuditEntry(actor, REFUSED, outcome="4", outcome_text=f"{status}: {outcome_text}"[:255])
    try:
        record_standalone(entry)
    except Exception:  # the refusal itself must still reach the browser
        log.exception("could not write the audit record of a console refusal")
