"""One resource read through the store as the staff member, or why it is not shown.

A page shows what the API would answer: a resource the consent decision withholds, or the
actor's scopes do not reach, is shown as withheld, and the refusal is audited as the API's
error handler audits a 404 by consent. A resource that is not there (any more) says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hub.audit.service import AuditEntry, record_access
from hub.errors import ConsentRefused, Forbidden, Gone, NotFound
from hub.fhir.store import FhirStore


class NotShown(StrEnum):
    WITHHELD = "withheld"  # consent or scope
    MISSING = "missing"  # unknown or deleted


@dataclass(frozen=True)
class Shown:
    reference: str
    resource: dict[str, Any] | None
    why_not: NotShown | None = None


def read_shown(store: FhirStore, resource_type: str, resource_id: str) -> Shown:
    reference = f"{resource_type}/{resource_id}"
    try:
        return Shown(reference, store.read(resource_type, resource_id).as_dict())
    except ConsentRefused as refused:
        record_access(
            store.session,
            AuditEntry(
                store.actor, "read", resource_type, outcome="4",
                outcome_text="404: refused by consent", patients=refused.patients,
                denied=refused.resources, decision="deny", consents=refused.consents,
            ),
        )  # fmt: skip
        return Shown(reference, None, NotShown.WITHHELD)
    except Forbidden:  # scopes: refused before anything is read
        record_access(
            store.session,
            AuditEntry(store.actor, "read", resource_type, [reference], outcome="4",
                       outcome_text="403: outside the actor's scopes"),
        )  # fmt: skip
        return Shown(reference, None, NotShown.WITHHELD)
    except (Gone, NotFound):
        return Shown(reference, None, NotShown.MISSING)
