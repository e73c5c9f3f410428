"""AuditEvent, read-only, served from the hash-chained audit log; break-glass review.

A patient token sees the patient's own access log: ``patient=`` may name only that patient (else
403), a search without it is narrowed to them, and each event is rendered for the patient
(:func:`hub.audit.render.to_audit_event`). A facility's system or practitioner sees the accesses
made under that facility's name only: who looked at which patient elsewhere is not theirs to
know. ``/audit/break-glass`` lists emergency accesses for
operators and auditors; operators mark them reviewed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import ColumnElement, func, or_, select

from hub.audit.models import AuditPatient, AuditRecord
from hub.audit.render import to_audit_event
from hub.audit.review_views import router as review_router
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.auth.scopes import Interaction
from hub.deps import MAX_ROW_ID, CurrentActor, unit_of_work
from hub.errors import Forbidden, InvalidRequest, NotFound
from hub.fhir import access
from hub.fhir.responses import FhirJsonResponse, fhir_response
from hub.fhir.search.dates import DateFormatError, date_range
from hub.fhir.search.params import int_param, split_prefix
from hub.mpi.lookup import linked_patient_ids
from hub.settings import get_settings

router = APIRouter()
fhir_router = APIRouter(
    prefix="/fhir/AuditEvent", tags=["FHIR R4"], default_response_class=FhirJsonResponse
)
SUPPORTED = {
    "date",
    "patient",
    "agent",
    "action",
    "outcome",
    "subtype",
    "_count",
    "_offset",
    "_id",
    "facility",
}


def _conditions(params: list[tuple[str, str]], actor: Actor) -> list[Any]:
    """SQL for the search ``params``, narrowed to what ``actor`` may see of the log: a patient
    the accesses to their record, a facility (system or practitioner) its own accesses, the
    roles that oversee the hub (auditors, operators) everything."""
    patient_only = actor.patient
    conds: list[ColumnElement[bool]] = []
    if actor.role in (Role.facility_system, Role.practitioner):
        conds.append(AuditRecord.facility == actor.facility)
    for key, value in params:
        if key not in SUPPORTED:
            raise InvalidRequest(
                f"unknown search parameter {key!r} for AuditEvent", expression=[key]
            )
        if key == "patient":
            pid = value.removeprefix("Patient/")
            if patient_only is not None and pid != patient_only:
                raise Forbidden("a patient may see only the accesses to their own record")
            conds.append(_accesses_to_person_of(pid))
        elif key == "agent":
            conds.append(AuditRecord.client_id == value)
        elif key == "facility":
            conds.append(AuditRecord.facility == value)
        elif key == "action":
            conds.append(AuditRecord.action == value)
        elif key == "outcome":
            conds.append(AuditRecord.outcome == value)
        elif key == "subtype":
            conds.append(AuditRecord.interaction == value.rpartition("|")[2])
        elif key == "_id":
            conds.append(AuditRecord.seq == _seq(value))
        elif key == "date":
            prefix, text = split_prefix(value)
            try:
                low, high = date_range(text)
            except DateFormatError as exc:
                raise InvalidRequest(f"date: {exc}", expression=["date"]) from None
            col = AuditRecord.recorded
            conds.append(
                {"gt": col >= high, "ge": col >= low, "lt": col < low, "le": col < high}.get(
                    prefix, (col >= low) & (col < high)
                )
            )
    if patient_only is not None:
        conds.append(_accesses_to_person_of(patient_only))
    return conds


def _accesses_to_person_of(patient_id: str) -> ColumnElement[bool]:
    """Records of accesses to this Patient record or any record linked to the same person: a
    patient's access log follows the person, like their consent."""
    records = or_(
        AuditPatient.patient_id == patient_id,
        AuditPatient.patient_id.in_(linked_patient_ids(patient_id)),
    )
    return AuditRecord.seq.in_(select(AuditPatient.seq).where(records))


def _seq(value: str) -> int:
    """The audit record number an AuditEvent id names; an id no record can have (not ASCII
    digits, or beyond the BIGINT range) is answered like any unknown id."""
    if not (value.isascii() and value.isdigit() and len(value) <= 19) or int(value) > MAX_ROW_ID:
        raise NotFound(f"AuditEvent/{value[:64]} is not known")
    return int(value)


def _render(rec: AuditRecord, base_url: str, actor: Actor) -> dict[str, Any]:
    overseer = actor.role in (Role.operator, Role.auditor) or actor.patient is not None
    return to_audit_event(rec, base_url, for_patient=actor.patient, name_consents=overseer)


@fhir_router.get("", summary="Search the audit log as AuditEvent")
def search_audit(request: Request, actor: CurrentActor) -> Response:
    params = request.query_params.multi_items()
    settings = get_settings()
    given = dict(params)
    count = min(int_param("_count", given.get("_count") or "50", 0, 10**9), settings.max_page_size)
    offset = int_param("_offset", given.get("_offset") or "0", 0, 10_000_000)
    with unit_of_work(actor) as store:
        access.require(actor, "AuditEvent", Interaction.search)
        conds = _conditions([(k, v) for k, v in params if k not in ("_count", "_offset")], actor)
        session = store.session
        total = session.execute(
            select(func.count()).select_from(AuditRecord).where(*conds)
        ).scalar_one()
        rows = (
            session.execute(
                select(AuditRecord)
                .where(*conds)
                .order_by(AuditRecord.seq.desc())
                .offset(offset)
                .limit(count)
            )
            .scalars()
            .all()
        )
        base = settings.fhir_base_url
        entries = [
            {
                "fullUrl": f"{base}/AuditEvent/{r.seq}",
                "resource": _render(r, base, actor),
                "search": {"mode": "match"},
            }
            for r in rows
        ]
        store.audit(
            "search-type",
            "AuditEvent",
            [f"AuditEvent/{r.seq}" for r in rows],
            [],
            ",".join(sorted({k for k, _ in params})),
        )
    return fhir_response(
        {"resourceType": "Bundle", "type": "searchset", "total": total, "entry": entries}
    )


@fhir_router.get("/{audit_id}", summary="Read one audit record as AuditEvent")
def read_audit(audit_id: str, actor: CurrentActor) -> Response:
    with unit_of_work(actor) as store:
        access.require(actor, "AuditEvent", Interaction.read)
        conds = _conditions([("_id", audit_id)], actor)
        rec = store.session.execute(select(AuditRecord).where(*conds)).scalar_one_or_none()
        if rec is None:
            raise NotFound(f"AuditEvent/{audit_id[:64]} is not known")
        store.audit("read", "AuditEvent", [f"AuditEvent/{rec.seq}"], [])
        body = _render(rec, get_settings().fhir_base_url, actor)
    return fhir_response(body)


router.include_router(fhir_router)
router.include_router(review_router)
