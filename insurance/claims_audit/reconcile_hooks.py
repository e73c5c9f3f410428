"""The write check on PaymentReconciliation (registered in :mod:`hub.wiring`).

The store's write decision already holds a facility to its own name (``requestor``) and keeps
the outcome the hub's; this check adds where it may write: only its day's upload, at the id
the upload has (``rcu-`` + its code + the day), whichever path it takes (``$upload``, a PUT, a
Bundle). So no facility takes another's upload id first, or the id of a result or a recovery,
and the hub's own writes are never blocked by a resource planted before them.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from hub.auth.roles import Role
from hub.errors import Forbidden
from hub.fhir.write_hooks import WriteKind
from insurance.claims_audit.reconcile_fhir import requestor_of, upload_id

if TYPE_CHECKING:
    from hub.fhir.store import FhirStore


def facility_writes_its_upload(
    store: FhirStore, kind: WriteKind, resource_type: str, resource: dict[str, Any]
) -> None:
    if store.actor.role is not Role.facility_system:
        return
    start = (resource.get("period") or {}).get("start")
    try:
        expected = upload_id(requestor_of(resource), date.fromisoformat(str(start)))
    except ValueError:
        raise Forbidden("a facility's PaymentReconciliation is its day's upload (period)") from None
    if resource.get("id") != expected:
        raise Forbidden(
            f"a facility writes only its day's upload: PaymentReconciliation/{expected}"
        )
