"""Access grants as FHIR Consents: what a referral or a consultation lets the other side read.

Why a Consent rather than a table of grants of its own: HL7's Consent provision already says
*who* (actor), *for what* (purpose), *until when* (period) and *which data* (data), and the hub
already enforces it everywhere -- reads, searches compiled into SQL (so totals stay right), the
patient index, outbound messages -- and audits the consents each decision rested on. A grant is
one more consent of the patient, recorded by the hub under the referral policy, visible to the
patient and to auditors, versioned like any other.

- the **request grant** (``referral-request-<task>``): the facility a request is addressed to
  reads the request itself (ServiceRequest, Task, Patient), so its worklist shows it even for a
  patient who opted out of sharing; a redirect adds the new owner. It has no end: a facility
  keeps sight of what it was asked.
- the **access grant** (``referral-access-<task>``): the facility that accepted the Task may
  read the patient's record for treatment (TREAT) from acceptance to the end of the request's
  validity; a consultation narrows it to the shared case (``data``). The period is checked at
  each decision, so a lapse needs no job; completion, cancellation or a hand-back withdraws it
  (status inactive) in the same transaction as the move.
- the **reply grant** (``consult-reply-<task>``): what the consultant writes back (thread
  messages, attachments, the report) stays readable by the requesting facility.

A grant names no security label, so sensitive classes stay as the patient's own consents and the
regional policy decide (``consent.pdp``: a permit reaches them only when it names them). At
equal specificity a patient's deny wins, so a patient who refused the receiving facility by
name is not overridden. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from hub.auth.purpose import ACT_REASON_SYSTEM
from hub.fhir.systems import NAMESPACE
from referral.rules import reference_of

GRANT_POLICY = f"{NAMESPACE}/policy/referral-access"
CONSENT_SCOPE = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/consentscope",
            "code": "patient-privacy",
        }
    ]
}
CONSENT_CATEGORY = {"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}
RECIPIENT = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}
    ]
}
TREAT = {"system": ACT_REASON_SYSTEM, "code": "TREAT"}
# Task statuses at which the receiving side's access ends (a hand-back is ``rejected``).
ENDING_STATUSES = frozenset({"completed", "cancelled", "rejected", "failed", "entered-in-error"})
DEFAULT_VALIDITY = timedelta(days=30)  # when the request names no period of its own


class GrantKind(StrEnum):
    REQUEST = "referral-request"  # the addressee reads the request it was sent
    ACCESS = "referral-access"  # the receiving side reads the patient's record (or the case)
    REPLY = "consult-reply"  # the requesting side reads what the consultant wrote back


def grant_id(kind: GrantKind, task_id: str) -> str:
    """The grant's id: the audit log names it, so it names the referral's Task."""
    return f"{kind}-{task_id}"


def is_grant(consent: dict[str, Any]) -> bool:
    return any(p.get("uri") == GRANT_POLICY for p in consent.get("policy") or [])


def validity_end(
    request: dict[str, Any], task: dict[str, Any], start: datetime, default: timedelta
) -> str:
    """When the access lapses: the request's ``occurrencePeriod.end``, else the Task's
    ``restriction.period.end``, else ``start + default``."""
    for period in (
        request.get("occurrencePeriod"),
        (task.get("restriction") or {}).get("period"),
    ):
        end = period.get("end") if isinstance(period, dict) else None
        if isinstance(end, str) and end:
            return end
    return (start + default).isoformat(timespec="seconds")


def access_grant(
    task: dict[str, Any],
    grantee: str,
    start: datetime,
    end: str | None,
    *,
    kind: GrantKind = GrantKind.ACCESS,
    data: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The Consent letting ``grantee`` (``Organization/id``) read the Task's patient's record
    for treatment from ``start`` to ``end`` (None: no end), or only ``data`` when given."""
    period = {"start": start.isoformat(timespec="seconds")}
    if end is not None:
        period["end"] = end
    provision: dict[str, Any] = {
        "type": "permit",
        "period": period,
        "actor": [{"role": RECIPIENT, "reference": {"reference": grantee}}],
        "purpose": [TREAT],
    }
    if data is not None:
        listed = list(dict.fromkeys(data))
        if not listed:  # no ``data`` in a provision means *all* data: never by accident
            raise ValueError("a grant of listed data lists at least one resource")
        provision["data"] = [
            {"meaning": "instance", "reference": {"reference": ref}} for ref in listed
        ]
    return {
        "resourceType": "Consent",
        "id": grant_id(kind, str(task["id"])),
        "status": "active",
        "scope": CONSENT_SCOPE,
        "category": [CONSENT_CATEGORY],
        "patient": task["for"],
        "dateTime": start.isoformat(timespec="seconds"),
        "policy": [{"uri": GRANT_POLICY}],
        "sourceReference": {"reference": f"Task/{task['id']}"},
        "provision": provision,
    }


def granted_data(grant: dict[str, Any]) -> list[str]:
    return [reference_of(item.get("reference")) for item in grant["provision"].get("data") or []]


def with_data(grant: dict[str, Any], references: Iterable[str]) -> dict[str, Any]:
    """``grant`` sharing ``references`` besides what it shares already."""
    provision = dict(grant["provision"])
    known = granted_data(grant)
    if not known:
        raise ValueError("only a grant of listed data is extended")
    provision["data"] = [
        {"meaning": "instance", "reference": {"reference": ref}}
        for ref in dict.fromkeys([*known, *references])
    ]
    return {**grant, "provision": provision}


def with_actor(grant: dict[str, Any], grantee: str) -> dict[str, Any]:
    """``grant`` reaching ``grantee`` too (a redirected request's new owner)."""
    provision = dict(grant["provision"])
    actors = list(provision.get("actor") or [])
    if grantee not in {reference_of(a.get("reference")) for a in actors}:
        actors.append({"role": RECIPIENT, "reference": {"reference": grantee}})
    provision["actor"] = actors
    return {**grant, "provision": provision}


def request_data(task: dict[str, Any], request: dict[str, Any]) -> list[str]:
    """What the addressee of a request reads before accepting it: the request, its Task and
    the patient it is about."""
    return [
        f"ServiceRequest/{request['id']}",
        f"Task/{task['id']}",
        reference_of(task.get("for")),
    ]


def withdrawn(grant: dict[str, Any]) -> dict[str, Any]:
    return {**grant, "status": "inactive"}


def starts_access(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return before.get("status") != "accepted" and after.get("status") == "accepted"


def ends_access(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return before.get("status") not in ENDING_STATUSES and after.get("status") in ENDING_STATUSES
