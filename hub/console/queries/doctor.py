"""The doctor's read models: the referral worklist, a referral's timeline, the consultation
inbox and thread, a patient's summary. Every read goes through the store as the doctor, so the
consent guard decides what is shown and the audit log records it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from hub.errors import FhirError, NotFound, not_available
from hub.fhir.origin import origin_facility
from hub.fhir.repository import StoredResource
from hub.fhir.store import FhirStore

WORKLIST_SIZE = 50
SNOMED_REFERRAL, SNOMED_CONSULTATION = "3457005", "11429006"
OPEN_STATUSES = "requested,received,accepted,in-progress"


class Tab(StrEnum):
    INCOMING = "incoming"
    OUTGOING = "outgoing"
    OVERDUE = "overdue"


class Kind(StrEnum):
    REFERRAL = "referral"
    CONSULTATION = "consultation"


@dataclass(frozen=True)
class WorkItem:
    task_id: str
    version: int
    status: str
    business_status: str
    priority: str
    authored: str
    patient: str  # Patient/<id>
    patient_name: str | None  # None: withheld by the patient's consent
    reason: str
    requester: str
    owner: str
    incoming: bool  # the doctor's facility owns it
    status_reason: str = ""


@dataclass
class Worklist:
    items: list[WorkItem] = field(default_factory=list)
    withheld: bool = False  # consent left some out


def concept_text(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and (coding.get("display") or coding.get("code")):
            return str(coding.get("display") or coding.get("code"))
    return ""


def reference(value: Any) -> str:
    ref = value.get("reference") if isinstance(value, dict) else None
    return ref if isinstance(ref, str) else ""


def person_name(patient: dict[str, Any]) -> str:
    for name in patient.get("name") or []:
        if not isinstance(name, dict):
            continue
        if name.get("text"):
            return str(name["text"])
        given = "".join(str(g) for g in name.get("given") or [])
        if name.get("family") or given:
            return f"{name.get('family', '')}{given}"
    return "-"


def kind_of(request: dict[str, Any]) -> Kind | None:
    codes = {
        coding.get("code")
        for concept in request.get("category") or []
        if isinstance(concept, dict)
        for coding in concept.get("coding") or []
        if isinstance(coding, dict)
    }
    if codes & {SNOMED_REFERRAL, "referral"}:
        return Kind.REFERRAL
    if SNOMED_CONSULTATION in codes:
        return Kind.CONSULTATION
    return None


def _query(facility: str, tab: Tab) -> list[tuple[str, str]]:
    org = f"Organization/{facility}"
    query = [("code", "process-request"), ("_sort", "-authored-on"),
             ("_count", str(WORKLIST_SIZE)), ("_include", "Task:focus"),
             ("_include", "Task:patient")]  # fmt: skip
    if tab is Tab.INCOMING:
        return [("owner", org), ("status", OPEN_STATUSES), *query]
    if tab is Tab.OUTGOING:
        return [("requester", org), *query]
    return [("owner", org), ("business-status", "overdue"), ("status", "requested,received"),
            *query]  # fmt: skip


def work_item(task: StoredResource, facility: str, names: dict[str, str]) -> WorkItem:
    body = task.as_dict()
    patient = reference(body.get("for"))
    return WorkItem(
        task_id=task.resource_id,
        version=task.version_id,
        status=str(body.get("status", "")),
        business_status=concept_text(body.get("businessStatus")),
        priority=str(body.get("priority", "routine")),
        authored=str(body.get("authoredOn", ""))[:16].replace("T", " "),
        patient=patient,
        patient_name=names.get(patient),
        reason=concept_text(body.get("statusReason")),
        requester=reference(body.get("requester")),
        owner=reference(body.get("owner")),
        incoming=reference(body.get("owner")) == f"Organization/{facility}",
        status_reason=concept_text(body.get("statusReason")),
    )


def worklist(store: FhirStore, facility: str, tab: Tab, kind: Kind = Kind.REFERRAL) -> Worklist:
    """One page of the facility's referral (or consultation) Tasks for ``tab``, newest first."""
    result = store.search("Task", _query(facility, tab))
    requests = {
        f"ServiceRequest/{r.resource_id}": r.as_dict()
        for r in result.included
        if r.resource_type == "ServiceRequest"
    }
    names = {
        f"Patient/{r.resource_id}": person_name(r.as_dict())
        for r in result.included
        if r.resource_type == "Patient"
    }
    items = []
    for task in result.matches:
        request = requests.get(reference(task.as_dict().get("focus")))
        if request is None or kind_of(request) is not kind:
            continue
        item = work_item(task, facility, names)
        reasons = [concept_text(c) for c in request.get("reasonCode") or []]
        items.append(_with_reason(item, "; ".join(r for r in reasons if r)))
    return Worklist(items, withheld=withheld(store))


def _with_reason(item: WorkItem, reason: str) -> WorkItem:
    return WorkItem(**{**item.__dict__, "reason": reason})


@dataclass(frozen=True)
class Step:
    version: int
    when: datetime
    status: str
    business_status: str
    reason: str
    owner: str


@dataclass
class Referral:
    item: WorkItem
    request: dict[str, Any]
    steps: list[Step]
    kind: Kind | None
    task: dict[str, Any] = field(default_factory=dict)  # the Task as the caller read it

    @property
    def outputs(self) -> list[Any]:
        """The Task's output (a consultation's report, ...)."""
        return list(self.task.get("output") or [])


def referral(store: FhirStore, facility: str, task_id: str) -> Referral:
    """One Task with its request and every version: the referral's timeline."""
    task = store.read("Task", task_id)
    body = task.as_dict()
    if not is_party(body, facility):
        raise NotFound(not_available(f"Task/{task_id}"))
    focus = reference(body.get("focus"))
    request = store.read("ServiceRequest", focus.removeprefix("ServiceRequest/")).as_dict()
    names = {}
    patient = reference(body.get("for"))
    shown = safe_read(store, "Patient", patient.removeprefix("Patient/"))
    if shown is not None:  # else withheld: shown as withheld
        names[patient] = person_name(shown)
    item = work_item(task, facility, names)
    reasons = [concept_text(c) for c in request.get("reasonCode") or []]
    item = _with_reason(item, "; ".join(r for r in reasons if r))
    entries, _ = store.history("Task", task_id, count=100)
    steps = []
    for entry in sorted(entries, key=lambda e: e.version_id):
        version = entry.resource.as_dict() if entry.resource is not None else {}
        steps.append(
            Step(
                version=entry.version_id,
                when=entry.last_updated,
                status=str(version.get("status", "deleted")),
                business_status=concept_text(version.get("businessStatus")),
                reason=concept_text(version.get("statusReason")),
                owner=reference(version.get("owner")),
            )
        )
    return Referral(item, request, steps, kind_of(request), body)


def withheld(store: FhirStore) -> bool:
    """Whether the consent decisions of the store's last read or search withheld anything."""
    return store.last_tally.decision in ("deny", "permit-with-redaction")


def is_party(task: dict[str, Any], facility: str) -> bool:
    """Whether ``facility`` is one side of the referral: its owner, or the one that made it.
    The console shows a referral only to its two sides, whatever else consent would share."""
    owner = reference(task.get("owner"))
    return owner == f"Organization/{facility}" or origin_facility(task) == facility


def safe_read(store: FhirStore, resource_type: str, resource_id: str) -> dict[str, Any] | None:
    """A read that yields None when consent or access withholds it (it is still audited)."""
    try:
        return store.read(resource_type, resource_id).as_dict()
    except FhirError:
        return None
