"""Who stewards the patient index: operators and data stewards change links, auditors read.

One rule for every client: the JSON API (:mod:`.views`) and the console's steward pages ask
here, so the console is no side door.
"""

from __future__ import annotations

from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.errors import Forbidden

STEWARD_ROLES = frozenset({Role.operator, Role.data_steward})
READER_ROLES = STEWARD_ROLES | {Role.auditor}


def require_steward(actor: Actor) -> None:
    if actor.role not in STEWARD_ROLES:
        raise Forbidden("only operators and data stewards may change patient-index links")


def require_reader(actor: Actor) -> None:
    if actor.role not in READER_ROLES:
        raise Forbidden("only operators, data stewards and auditors may read patient-index links")
