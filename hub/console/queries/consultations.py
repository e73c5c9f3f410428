"""The consultation inbox's read models: a consultation with its request, thread and report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.console.queries.doctor import Kind, Referral, referral, safe_read
from hub.fhir.store import FhirStore
from referral.consultation.rules import reports
from referral.consultation.thread import thread


@dataclass(frozen=True)
class Message:
    sent: str
    sender: str  # the facility code
    text: str
    mine: bool


@dataclass(frozen=True)
class Report:
    reference: str
    issued: str
    conclusion: str | None  # None: not available to the caller


@dataclass
class Consultation:
    case: Referral
    messages: list[Message]
    reports: list[Report]


def _when(value: Any) -> str:
    return str(value or "")[:16].replace("T", " ")


def _message(body: dict[str, Any], facility: str) -> Message:
    sender = str((body.get("sender") or {}).get("reference", "")).removeprefix("Organization/")
    texts = [str(p["contentString"]) for p in body.get("payload") or [] if "contentString" in p]
    return Message(_when(body.get("sent")), sender, "\n".join(texts), sender == facility)


def consultation(store: FhirStore, facility: str, task_id: str) -> Consultation | None:
    """The consultation of Task ``task_id`` (None when the Task is a referral, not one)."""
    case = referral(store, facility, task_id)
    if case.kind is not Kind.CONSULTATION:
        return None
    messages = [_message(m.as_dict(), facility) for m in thread(store, task_id)]
    task = {"output": case.outputs}
    found = []
    for reference in reports(task):
        kind, _, report_id = reference.partition("/")
        body = safe_read(store, kind, report_id)
        found.append(
            Report(
                reference,
                _when(body.get("issued")) if body else "",
                str(body.get("conclusion", "")) if body else None,
            )
        )
    return Consultation(case, messages, found)
