"""The SLA job: flag overdue referrals and expire stale ones, through the store, as the hub.

Each Task is changed in a transaction of its own with ``If-Match`` set to the version the search
returned: the store compares it under the row lock, so when two workers sweep at once the
second gets 412 for every Task the first changed, and skips it. The notice to the referral desk
is created in the same transaction as the flag, so a Task gets exactly one. Every write goes
through the store's decision point (authorization, consent, audit, write hooks: the Task hook
checks the expiry against ``referral.states``, the outbound hooks deliver the Communication to
subscribers and the status change as HL7 v2 RRI).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.db import session_scope
from hub.errors import PreconditionFailed
from hub.fhir.store import FhirStore
from hub.fhir.write_origin import HUB_FACILITY
from hub.security.fields import get_cipher
from hub.settings import get_settings
from referral.rules import PROCESS_REQUEST, TASK_CODE_SYSTEM
from referral.scheduling.store_access import search
from referral.sla import (
    AWAITING_ACCEPTANCE,
    NOT_UNDER_WAY,
    OVERDUE,
    SLA_CLIENT_ID,
    ServiceLevel,
    SlaAction,
    SlaRules,
    action_for,
    desk_notice,
    expired,
    flagged_overdue,
    load_sla_rules,
)

BATCH = 200
PROCESS_REQUEST_TOKEN = f"{TASK_CODE_SYSTEM}|{PROCESS_REQUEST}"


# The sweep's own identity: referral.hooks gives it the HUB side, which may only expire a Task.
SLA_ACTOR = Actor.build(
    client_id=SLA_CLIENT_ID, facility=HUB_FACILITY, role=Role.operator, scope="system/*.cruds"
)


def _sla_store(session: Any) -> FhirStore:
    return FhirStore(session, SLA_ACTOR, get_cipher(), get_settings().fhir_base_url)


@dataclass
class SweepResult:
    flagged: int = 0
    expired: int = 0
    raced: int = 0  # changed by another worker (or the owner) between the search and the write

    def as_dict(self) -> dict[str, int]:
        return {"flagged": self.flagged, "expired": self.expired, "raced": self.raced}


def sweep(now: datetime, *, facility: str | None = None, batch: int = BATCH) -> SweepResult:
    """Expire, then flag, every referral Task (of ``facility``'s worklist, or all) due at
    ``now``. Idempotent: a second run finds nothing left to do."""
    rules = load_sla_rules()
    result = SweepResult()
    for action, statuses in (
        (SlaAction.EXPIRE, NOT_UNDER_WAY),
        (SlaAction.FLAG_OVERDUE, AWAITING_ACCEPTANCE),
    ):
        for priority_params, level in _priority_filters(rules):
            window = level.valid_for if action is SlaAction.EXPIRE else level.accept_within
            cutoff = now - window
            params = [
                ("code", PROCESS_REQUEST_TOKEN),
                ("status", ",".join(statuses)),
                ("authored-on", f"lt{cutoff.isoformat()}"),
                *priority_params,
                *_owner_filter(facility),
            ]
            if action is SlaAction.FLAG_OVERDUE:
                params.append(("business-status:not", OVERDUE))
            _apply_all(rules, action, params, now, batch, result)
    return result


def _apply_all(
    rules: SlaRules,
    action: SlaAction,
    params: list[tuple[str, str]],
    now: datetime,
    batch: int,
    result: SweepResult,
) -> None:
    """Page through the matches. A changed Task leaves the search (whoever changed it: this
    worker, another one, its owner), so only a Task left as it was is stepped over; an offset
    that also counted the changed ones would skip Tasks nobody has looked at."""
    skipped = 0
    while True:
        page = [*params, ("_sort", "authored-on"), ("_count", str(batch))]
        page.append(("_offset", str(skipped)))
        with session_scope() as session:
            tasks = search(_sla_store(session), "Task", page)
        if not tasks:
            return
        for task in tasks:
            outcome = _apply(rules, action, task, now)
            if outcome is Outcome.CHANGED:
                if action is SlaAction.EXPIRE:
                    result.expired += 1
                else:
                    result.flagged += 1
            elif outcome is Outcome.RACED:
                result.raced += 1
            else:
                skipped += 1


class Outcome(StrEnum):
    CHANGED = "changed"
    RACED = "raced"  # it moved on since the search (412): it has left the search
    LEFT_AS_IS = "left-as-is"  # not due for this action: it stays in the search


def _apply(rules: SlaRules, action: SlaAction, task: dict[str, Any], now: datetime) -> Outcome:
    """Change one Task as of the version searched."""
    if action_for(rules, task, now) is not action:
        return Outcome.LEFT_AS_IS
    changed = expired(task) if action is SlaAction.EXPIRE else flagged_overdue(task)
    version = int(task["meta"]["versionId"])
    try:
        with session_scope() as session:
            store = _sla_store(session)
            store.update("Task", str(task["id"]), changed, if_match=version)
            store.create("Communication", desk_notice(rules, task, action, now))
    except PreconditionFailed:
        return Outcome.RACED
    return Outcome.CHANGED


def overdue_tasks(
    store: FhirStore, *, facility: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Referral Tasks flagged overdue and still awaiting acceptance, oldest first: the same
    search the API answers (``Task?business-status=overdue&status=requested,received``)."""
    params = [
        ("business-status", OVERDUE),
        ("status", ",".join(AWAITING_ACCEPTANCE)),
        *_owner_filter(facility),
        ("_sort", "authored-on"),
        ("_count", str(limit)),
    ]
    return search(store, "Task", params)


def _priority_filters(rules: SlaRules) -> list[tuple[list[tuple[str, str]], ServiceLevel]]:
    """One search filter per priority; Tasks without one follow the default priority."""
    filters: list[tuple[list[tuple[str, str]], ServiceLevel]] = [
        ([("priority", name)], level) for name, level in rules.priorities.items()
    ]
    filters.append(([("priority:missing", "true")], rules.level(None)))
    return filters


def _owner_filter(facility: str | None) -> list[tuple[str, str]]:
    return [] if facility is None else [("owner", f"Organization/{facility}")]
