"""A consultation's conversation, one call each: its thread, a message on it, the report.

A message is a ``Communication`` ``partOf`` the consultation's Task, about its patient; the
report a final ``DiagnosticReport`` ``basedOn`` the consultation, which completes the Task
(``hooks.report_issued``). Both are written through the store, so the consultation hooks share
them with the other side and the audit log records them, as when a facility's system posts them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.errors import InvalidRequest
from hub.fhir.repository import StoredResource
from hub.fhir.store import FhirStore
from referral.rules import reference_of

MAX_TEXT_LENGTH = 4000
THREAD_SIZE = 200
LOINC = "http://loinc.org"
CONSULT_NOTE = {"coding": [{"system": LOINC, "code": "11488-4", "display": "Consult note"}]}


def _text(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise InvalidRequest("the message is empty")
    if len(cleaned) > MAX_TEXT_LENGTH:
        raise InvalidRequest(f"a message has at most {MAX_TEXT_LENGTH} characters")
    return cleaned


def thread(store: FhirStore, task_id: str) -> list[StoredResource]:
    """The messages on consultation Task ``task_id`` the caller may see, oldest first."""
    query = [("part-of", f"Task/{task_id}"), ("_sort", "sent"), ("_count", str(THREAD_SIZE))]
    return store.search("Communication", query).matches


def post_message(store: FhirStore, task: dict[str, Any], text: str) -> StoredResource:
    """A message from the caller's facility on the consultation's thread."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    message = {
        "resourceType": "Communication",
        "status": "completed",
        "partOf": [{"reference": f"Task/{task['id']}"}],
        "subject": {"reference": reference_of(task.get("for"))},
        "sender": {"reference": f"Organization/{store.actor.facility}"},
        "sent": now,
        "payload": [{"contentString": _text(text)}],
    }
    return store.create("Communication", message)


def issue_report(store: FhirStore, task: dict[str, Any], conclusion: str) -> StoredResource:
    """The consultant's final report: it completes the consultation's Task."""
    report = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": CONSULT_NOTE,
        "basedOn": [{"reference": reference_of(task.get("focus"))}],
        "subject": {"reference": reference_of(task.get("for"))},
        "issued": datetime.now(UTC).isoformat(timespec="seconds"),
        "performer": [{"reference": f"Organization/{store.actor.facility}"}],
        "conclusion": _text(conclusion),
    }
    return store.create("DiagnosticReport", report)
