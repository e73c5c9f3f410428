"""``Patient/$everything``: a patient's record, the patient and every resource of its compartment.

The export a patient gets of their own data (PIPL Art. 45) and a treating facility's view of a
record. It runs through the same choke points as a search: scopes, the patient compartment of a
patient token, and the consent filter in SQL with each row screened (``consent.enforcement``),
so the export has no way round a consent. Paged with ``_count``/``_offset`` over a fixed order
(resource type, then row), so a large record is read in pieces; ``_type`` narrows the types.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import false, func, select

from hub.auth.scopes import Interaction, allows
from hub.deps import MAX_OFFSET, CurrentActor, unit_of_work
from hub.errors import Gone, InvalidRequest, NotFound, not_available
from hub.fhir import access
from hub.fhir.models import ResourceRow
from hub.fhir.repository import StoredResource
from hub.fhir.responses import fhir_response
from hub.fhir.search.engine import visible_only
from hub.fhir.search_parameters import RESOURCE_DEFS
from hub.fhir.store import FhirStore
from hub.fhir.system_reads import referring_rids
from hub.settings import get_settings

MAX_COUNT = 1000
router = APIRouter(tags=["FHIR R4"])


def compartment_types() -> list[str]:
    return sorted(t for t, d in RESOURCE_DEFS.items() if d.patient_compartment and t != "Patient")


def _members(store: FhirStore, resource_type: str, patient_id: str) -> list[Any]:
    definition = RESOURCE_DEFS[resource_type]
    conds: list[Any] = [
        ResourceRow.resource_type == resource_type,
        ResourceRow.deleted == false(),
        ResourceRow.rid.in_(
            referring_rids(resource_type, definition.patient_compartment, "Patient", [patient_id])
        ),
    ]
    return visible_only(store, resource_type, definition, conds)


def everything(
    store: FhirStore, patient_id: str, *, types: list[str] | None, count: int, offset: int
) -> tuple[list[StoredResource], int]:
    """(this page of the record, the record's size): the Patient first, then by type."""
    definition = store.definition("Patient")
    access.require(store.actor, "Patient", Interaction.read)
    row = store.current_row("Patient", patient_id)
    if row is None:
        raise NotFound(not_available(f"Patient/{patient_id}"))
    if row.deleted or row.content is None:
        raise Gone(f"Patient/{patient_id} was deleted")
    patient = store.to_stored(row, row.version_id)
    store.require_visible("Patient", patient.as_dict(), definition)
    page: list[StoredResource] = []
    if offset == 0:
        page.append(store.guard.require(patient, definition))
    total, skip = 1, max(offset - 1, 0)
    for resource_type in types or compartment_types():
        if not allows(store.actor.scopes, resource_type, Interaction.read):
            continue  # types the token may not read are left out, as for _include
        conds = _members(store, resource_type, patient_id)
        size = store.session.execute(
            select(func.count()).select_from(ResourceRow).where(*conds)
        ).scalar_one()
        total += size
        room = count - len(page)
        if skip >= size or room <= 0:
            skip = max(skip - size, 0)
            continue
        rows = store.session.execute(
            select(ResourceRow).where(*conds).order_by(ResourceRow.rid).offset(skip).limit(room)
        ).scalars()
        skip = 0
        page.extend(
            store.guard.screen_all([store.to_stored(r, r.version_id) for r in rows], RESOURCE_DEFS)
        )
    resources = [f"{item.resource_type}/{item.resource_id}" for item in page]
    store.audit("operation", "Patient", resources, [patient_id], query_params="$everything")
    return page, total


def _bundle(
    page: list[StoredResource], total: int, patient_id: str, count: int, offset: int, types: str
) -> dict[str, Any]:
    base = get_settings().fhir_base_url
    here = f"{base}/Patient/{patient_id}/$everything"

    def link(relation: str, at: int) -> dict[str, str]:
        query = {"_count": count, "_offset": at, **({"_type": types} if types else {})}
        return {"relation": relation, "url": f"{here}?{urlencode(query)}"}

    links = [link("self", offset)]
    if offset + count < total:
        links.append(link("next", offset + count))
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {
                "fullUrl": f"{base}/{item.resource_type}/{item.resource_id}",
                "resource": item.as_dict(),
                "search": {"mode": "match"},
            }
            for item in page
        ],
    }


@router.get("/fhir/Patient/{patient_id}/$everything", summary="Patient $everything")
def patient_everything(
    patient_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9\-.]{1,64}$")],
    actor: CurrentActor,
    _count: Annotated[int, Query(ge=1, le=MAX_COUNT)] = 200,
    _offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    _type: str = "",
) -> Response:
    types = [t.strip() for t in _type.split(",") if t.strip()] or None
    known = set(compartment_types())
    unknown = sorted(set(types or ()) - known)
    if unknown:
        raise InvalidRequest(
            f"_type names types outside the patient compartment: {', '.join(unknown)[:200]}",
            expression=["_type"],
        )
    with unit_of_work(actor) as store:
        page, total = everything(store, patient_id, types=types, count=_count, offset=_offset)
    return fhir_response(_bundle(page, total, patient_id, _count, _offset, _type))
