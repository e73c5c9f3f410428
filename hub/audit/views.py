"""AuditEvent, read-only, served from the hash-chained audit log."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import ColumnElement, func, select

from hub.audit.models import AuditPatient, AuditRecord
from hub.auth.scopes import Interaction
from hub.deps import CurrentActor, unit_of_work
from hub.errors import InvalidRequest, NotFound
from hub.fhir import access
from hub.fhir.responses import fhir_response
from hub.fhir.search.dates import DateFormatError, date_range
from hub.fhir.search.params import int_param, split_prefix
from hub.settings import get_settings

router = APIRouter(prefix="/fhir/AuditEvent", tags=["FHIR R4"])
DCM = "http://dicom.nema.org/resources/ontology/DCM"
RESTFUL = "http://hl7.org/fhir/restful-interaction"
PURPOSE = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
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


def to_audit_event(rec: AuditRecord, base_url: str) -> dict[str, Any]:
    agent: dict[str, Any] = {
        "type": {"text": rec.role},
        "who": {
            "identifier": {"system": f"{base_url}/client", "value": rec.client_id},
            "display": f"{rec.role} @ {rec.facility}",
        },
        "requestor": True,
    }
    if rec.purpose_of_use:
        agent["purposeOfUse"] = [{"coding": [{"system": PURPOSE, "code": rec.purpose_of_use}]}]
    if rec.source_address:
        agent["network"] = {"address": rec.source_address, "type": "2"}
    entities: list[dict[str, Any]] = [
        {"what": {"reference": ref}} for ref in json.loads(rec.resources)
    ]
    entities += [
        {"what": {"reference": f"Patient/{p}"}, "role": {"code": "1", "display": "Patient"}}
        for p in json.loads(rec.patients)
    ]
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(rec.seq),
        "type": {"system": DCM, "code": "110110", "display": "Patient Record"},
        "subtype": [{"system": RESTFUL, "code": rec.interaction}],
        "action": rec.action,
        "recorded": rec.recorded.isoformat(),
        "outcome": rec.outcome,
        "agent": [agent],
        "source": {"observer": {"display": "Yichang Regional Health Hub"}, "site": rec.facility},
        "extension": [
            {"url": f"{base_url}/StructureDefinition/audit-chain-hash", "valueString": rec.hash}
        ],
    }
    if rec.outcome_text:
        event["outcomeDesc"] = rec.outcome_text
    if entities:
        event["entity"] = entities
    return event


def _conditions(params: list[tuple[str, str]], patient_only: str | None) -> list[Any]:
    conds: list[ColumnElement[bool]] = []
    for key, value in params:
        if key not in SUPPORTED:
            raise InvalidRequest(
                f"unknown search parameter {key!r} for AuditEvent", expression=[key]
            )
        if key == "patient":
            pid = value.removeprefix("Patient/")
            conds.append(
                AuditRecord.seq.in_(select(AuditPatient.seq).where(AuditPatient.patient_id == pid))
            )
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
        conds.append(
            AuditRecord.seq.in_(
                select(AuditPatient.seq).where(AuditPatient.patient_id == patient_only)
            )
        )
    return conds


def _seq(value: str) -> int:
    if not value.isdigit():
        raise NotFound(f"AuditEvent/{value[:64]} is not known")
    return int(value)


@router.get("", summary="Search the audit log as AuditEvent")
def search_audit(request: Request, actor: CurrentActor) -> Response:
    params = request.query_params.multi_items()
    settings = get_settings()
    given = dict(params)
    count = min(int_param("_count", given.get("_count") or "50", 0, 10**9), settings.max_page_size)
    offset = int_param("_offset", given.get("_offset") or "0", 0, 10_000_000)
    with unit_of_work(actor) as store:
        access.require(actor, "AuditEvent", Interaction.search)
        conds = _conditions(
            [(k, v) for k, v in params if k not in ("_count", "_offset")], actor.patient
        )
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
                "resource": to_audit_event(r, base),
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


@router.get("/{audit_id}", summary="Read one audit record as AuditEvent")
def read_audit(audit_id: str, actor: CurrentActor) -> Response:
    with unit_of_work(actor) as store:
        access.require(actor, "AuditEvent", Interaction.read)
        conds = _conditions([("_id", audit_id)], actor.patient)
        rec = store.session.execute(select(AuditRecord).where(*conds)).scalar_one_or_none()
        if rec is None:
            raise NotFound(f"AuditEvent/{audit_id[:64]} is not known")
        store.audit("read", "AuditEvent", [f"AuditEvent/{rec.seq}"], [])
        body = to_audit_event(rec, get_settings().fhir_base_url)
    return fhir_response(body)
