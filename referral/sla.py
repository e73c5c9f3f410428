"""Referral service levels: how long a facility has to accept, and how long a referral is valid.

Per priority (``data/sla.json``): a referral still requested or received past its time to
accept is *overdue* (``businessStatus`` overdue, and a notice to the owner's referral desk); one
not under way (requested, received or accepted, the patient not arrived) past its validity
window *expires* (the hub's move of :data:`referral.states.EXPIRIES`). Both count from the
Task's ``authoredOn``. Pure: decisions and the resources they write, no I/O beyond reading the
packaged file; ``referral.escalation`` applies them through the store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, PositiveInt

from hub.fhir.systems import NAMESPACE
from referral.rules import reference_of
from referral.states import EXPIRED, expiry_from

# the SLA sweep's client id: referral.hooks gives it the HUB side (it may only expire a Task)
SLA_CLIENT_ID = "hub-referral-sla"

SLA_FILE = "sla.json"
BUSINESS_STATUS_SYSTEM = f"{NAMESPACE}/CodeSystem/referral-business-status"
NOTICE_SYSTEM = f"{NAMESPACE}/sid/referral-sla-notice"
OVERDUE = "overdue"
AWAITING_ACCEPTANCE = ("requested", "received")
NOT_UNDER_WAY = ("requested", "received", "accepted")
EXPIRY_REASON = "the referral's validity window lapsed before the patient arrived"


class ServiceLevel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    accept_within_minutes: PositiveInt
    valid_for_days: PositiveInt

    @property
    def accept_within(self) -> timedelta:
        return timedelta(minutes=self.accept_within_minutes)

    @property
    def valid_for(self) -> timedelta:
        return timedelta(days=self.valid_for_days)


class SlaRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    description: str = ""
    default_priority: str
    priorities: dict[str, ServiceLevel]  # FHIR request priority -> its service level

    def level(self, priority: object) -> ServiceLevel:
        """The service level of a priority; an absent or unknown one gets the default's."""
        chosen = priority if isinstance(priority, str) else self.default_priority
        return self.priorities.get(chosen) or self.priorities[self.default_priority]


class SlaAction(StrEnum):
    FLAG_OVERDUE = "flag-overdue"
    EXPIRE = "expire"


@cache
def load_sla_rules() -> SlaRules:
    text = (resources.files("referral") / "data" / SLA_FILE).read_text(encoding="utf-8")
    rules = SlaRules.model_validate_json(text)
    if rules.default_priority not in rules.priorities:
        raise ValueError(f"{SLA_FILE}: the default priority has no service level")
    return rules


def authored_at(task: dict[str, Any]) -> datetime | None:
    """When the referral was made (``authoredOn``; a date without a zone is taken as UTC)."""
    value = task.get("authoredOn")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def accept_due(rules: SlaRules, task: dict[str, Any]) -> datetime | None:
    start = authored_at(task)
    return None if start is None else start + rules.level(task.get("priority")).accept_within


def valid_until(rules: SlaRules, task: dict[str, Any]) -> datetime | None:
    start = authored_at(task)
    return None if start is None else start + rules.level(task.get("priority")).valid_for


def business_codes(task: dict[str, Any]) -> set[str]:
    concept = task.get("businessStatus")
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return {str(c.get("code")) for c in codings or [] if isinstance(c, dict)}


def is_flagged_overdue(task: dict[str, Any]) -> bool:
    return OVERDUE in business_codes(task)


def action_for(rules: SlaRules, task: dict[str, Any], now: datetime) -> SlaAction | None:
    """What the SLA job does to ``task`` at ``now``: expire it, flag it overdue, or nothing.
    Nothing twice: a flagged Task is not flagged again, an expired one has left these states."""
    status = task.get("status")
    expires = valid_until(rules, task)
    if status in NOT_UNDER_WAY and expires is not None and now >= expires:
        return SlaAction.EXPIRE
    due = accept_due(rules, task)
    waiting = status in AWAITING_ACCEPTANCE and not is_flagged_overdue(task)
    if waiting and due is not None and now >= due:
        return SlaAction.FLAG_OVERDUE
    return None


def _concept(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": BUSINESS_STATUS_SYSTEM, "code": code}], "text": display}


def flagged_overdue(task: dict[str, Any]) -> dict[str, Any]:
    """The Task with ``businessStatus`` overdue; its status, and so its owner's choice, stays."""
    return {**task, "businessStatus": _concept(OVERDUE, "overdue: not accepted in time")}


def expired(task: dict[str, Any]) -> dict[str, Any]:
    """The Task after the hub's expiry move (:data:`referral.states.EXPIRIES`)."""
    move = expiry_from(str(task.get("status")))
    if move is None:
        raise ValueError(f"a {task.get('status')} referral does not expire")
    return {
        **task,
        "status": move.target,
        "statusReason": {"text": EXPIRY_REASON},
        "businessStatus": _concept(EXPIRED, "expired: validity lapsed"),
    }


def notice_identifier(task_id: str, action: SlaAction) -> dict[str, str]:
    """One notice per Task and action: a second sweep finds it instead of sending another."""
    return {"system": NOTICE_SYSTEM, "value": f"{task_id}-{action}"}


def desk_notice(
    rules: SlaRules, task: dict[str, Any], action: SlaAction, now: datetime
) -> dict[str, Any]:
    """A ``Communication`` to the owner's referral desk (and, for an expiry, the requester's)
    about the Task. It names the Task, not the patient: the desk follows the reference."""
    owner = reference_of(task.get("owner"))
    recipients = [{"reference": owner}] if owner else []
    text = f"Referral Task/{task['id']} ({task.get('priority') or 'routine'})"
    if action is SlaAction.FLAG_OVERDUE:
        text += f" was not accepted by {_moment(accept_due(rules, task))}."
    else:
        requester = reference_of(task.get("requester"))
        if requester and requester != owner:
            recipients.append({"reference": requester})
        text += f" expired: {EXPIRY_REASON}."
    return {
        "resourceType": "Communication",
        "identifier": [notice_identifier(str(task["id"]), action)],
        "status": "completed",
        "category": [{"coding": [{"system": BUSINESS_STATUS_SYSTEM, "code": str(action)}]}],
        "priority": task.get("priority") or "routine",
        "about": [{"reference": f"Task/{task['id']}"}],
        "recipient": recipients,
        "sent": now.astimezone(UTC).isoformat(timespec="seconds"),
        "payload": [{"contentString": text}],
    }


def _moment(value: datetime | None) -> str:
    return "its due time" if value is None else value.astimezone(UTC).isoformat(timespec="minutes")
