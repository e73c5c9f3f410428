"""Rebuild the search index rows of stored resources (``hub db reindex``).

Index rows are derived data: written with each version by the store, they change meaning when a
search parameter is added or when the hub indexes something new (the origin and sensitivity
rows the consent filter reads, ``hub.fhir.search.extract``). Reindexing recomputes them from the
current content in batches of rows, each batch its own short transaction keyed by ``rid``, so
the hub keeps serving and an interrupted run can simply be started again. Patients stored
without an origin (from before every write path stamped one) get the origin the patient index
registered them under.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.orm import Session

from hub.auth.actor import SYSTEM_ACTOR
from hub.db import session_scope
from hub.fhir.models import ResourceRow
from hub.fhir.origin import facility_source
from hub.fhir.search_parameters import RESOURCE_DEFS
from hub.fhir.store import FhirStore
from hub.mpi.lookup import recording_facilities
from hub.security.fields import get_cipher
from hub.settings import get_settings


def _where(resource_type: str | None) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [
        ResourceRow.deleted == false(),
        ResourceRow.content.is_not(None),
    ]
    if resource_type is not None:
        conds.append(ResourceRow.resource_type == resource_type)
    return conds


def count_resources(resource_type: str | None = None) -> int:
    with session_scope() as session:
        return int(
            session.execute(
                select(func.count()).select_from(ResourceRow).where(*_where(resource_type))
            ).scalar_one()
        )


def _missing_patient_origins(session: Session, rows: Sequence[ResourceRow]) -> dict[str, str]:
    """Patients stored without an origin (loaded before every path stamped one): the facility
    the patient index registered each under."""
    unstamped = [
        row.resource_id
        for row in rows
        if row.resource_type == "Patient" and '"source"' not in (row.content or "")
    ]
    return recording_facilities(session, unstamped) if unstamped else {}


def reindex(
    resource_type: str | None = None,
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] = lambda n: None,
) -> int:
    """Recompute every current resource's index rows; returns how many were reindexed."""
    done, after = 0, 0
    cipher, base_url = get_cipher(), get_settings().fhir_base_url
    while True:
        with session_scope() as session:
            store = FhirStore(session, SYSTEM_ACTOR, cipher, base_url)
            rows = (
                session.execute(
                    select(ResourceRow)
                    .where(*_where(resource_type), ResourceRow.rid > after)
                    .order_by(ResourceRow.rid)
                    .limit(batch_size)
                )
                .scalars()
                .all()
            )
            origins = _missing_patient_origins(session, rows)
            for row in rows:
                definition = RESOURCE_DEFS.get(row.resource_type)
                if definition is None:
                    continue
                body = store.to_stored(row, row.version_id).as_dict()
                if row.resource_id in origins and row.resource_type == "Patient":
                    store.restamp_origin(row, body, facility_source(origins[row.resource_id]))
                store.clear_index(row.rid)
                store.write_index(row.rid, row.resource_type, body, definition)
        if not rows:
            return done
        after = rows[-1].rid
        done += len(rows)
        progress(len(rows))
