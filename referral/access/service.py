"""Access grants written and withdrawn through the store, as the hub itself.

The hub records them (``SYSTEM_ACTOR``), not the accepting facility: a facility may not record a
consent that grants itself access (``consent.write_rules``). They go through the store's one
decision point and its Consent hook (checked, audited, in the writing transaction), so a refused
move leaves no grant behind and a granted one never outlives a rolled-back acceptance.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.auth.actor import SYSTEM_ACTOR
from hub.fhir.search.dates import DateFormatError, date_range
from hub.fhir.store import FhirStore
from referral.access.grants import (
    DEFAULT_VALIDITY,
    GrantKind,
    access_grant,
    ends_access,
    grant_id,
    granted_data,
    request_data,
    starts_access,
    validity_end,
    with_actor,
    with_data,
    withdrawn,
)
from referral.rules import reference_of

CONSENT = "Consent"


def _hub(store: FhirStore) -> FhirStore:
    return FhirStore(store.session, SYSTEM_ACTOR, store.cipher, store.base_url)


def _current(store: FhirStore, kind: GrantKind, task: dict[str, Any]) -> dict[str, Any] | None:
    return store.system.current(CONSENT, grant_id(kind, str(task["id"])))


def _save(store: FhirStore, grant: dict[str, Any]) -> None:
    hub = _hub(store)
    hub.update(CONSENT, str(grant["id"]), {k: v for k, v in grant.items() if k != "meta"})


def _lapsed(end: str, now: datetime) -> bool:
    try:
        return date_range(end)[1] <= now
    except DateFormatError:
        return False  # the Consent check names the bad date


def grant_access(
    store: FhirStore,
    task: dict[str, Any],
    request: dict[str, Any],
    *,
    data: Iterable[str] | None = None,
    validity: timedelta = DEFAULT_VALIDITY,
) -> None:
    """The Task's owner may read the patient's record (or only ``data``) until the request's
    validity ends. A request whose validity has already passed grants nothing."""
    now = datetime.now(UTC)
    end = validity_end(request, task, now, validity)
    if _lapsed(end, now):
        return
    owner = reference_of(task.get("owner"))
    _save(store, access_grant(task, owner, now, end, data=data))


def end_access(store: FhirStore, task: dict[str, Any]) -> None:
    """Withdraw the Task's access grant (status inactive), if it holds one."""
    grant = _current(store, GrantKind.ACCESS, task)
    if grant is not None and grant.get("status") == "active":
        _save(store, withdrawn(grant))


def share_with(
    store: FhirStore, task: dict[str, Any], kind: GrantKind, references: Iterable[str]
) -> None:
    """Add ``references`` to the Task's grant of ``kind``: the access grant while it is active
    (its period and grantee unchanged), or the reply grant to the requester (made on first use,
    with no end: a reply stays readable by whom it answers)."""
    references = list(references)
    if not references:
        return
    grant = _current(store, kind, task)
    if kind is GrantKind.ACCESS:
        # A referral's grant is the whole record: nothing to add to it.
        if grant is not None and grant.get("status") == "active" and granted_data(grant):
            _save(store, with_data(grant, references))
        return
    if grant is None:
        requester = reference_of(task.get("requester"))
        grant = access_grant(task, requester, datetime.now(UTC), None, kind=kind, data=references)
    _save(store, with_data(grant, references))


def address_request(store: FhirStore, task: dict[str, Any], request: dict[str, Any]) -> None:
    """The Task's owner reads the request it is sent (a redirect's new owner too)."""
    owner = reference_of(task.get("owner"))
    grant = _current(store, GrantKind.REQUEST, task)
    if grant is None:
        data = request_data(task, request)
        now = datetime.now(UTC)
        _save(store, access_grant(task, owner, now, None, kind=GrantKind.REQUEST, data=data))
    else:
        _save(store, with_actor(grant, owner))


def follow_move(
    store: FhirStore,
    before: dict[str, Any],
    task: dict[str, Any],
    request: dict[str, Any],
    *,
    data: Iterable[str] | None = None,
    validity: timedelta = DEFAULT_VALIDITY,
) -> None:
    """Grant on acceptance, withdraw when the Task completes, is cancelled or handed back;
    a redirected request is shown to its new owner."""
    if reference_of(before.get("owner")) != reference_of(task.get("owner")):
        address_request(store, task, request)
    if starts_access(before, task):
        grant_access(store, task, request, data=data, validity=validity)
    elif ends_access(before, task):
        end_access(store, task)
