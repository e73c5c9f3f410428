"""The store -> the rules' view: a day's settled claims (or one claim) with what lies behind
them, read through the caller's store (its scopes, consent and audit apply).

Around the claims of the day it loads the same persons' claims, encounters and dispenses of a
look-back window (the longest the rules look back: a readmission's N days, a chronic supply), so
rules across days (split admission, overlapping supplies) see both sides. When the policy
matches prescriptions, it loads the MedicationRequests of those claims' encounters and those
the window's dispenses name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import Any

from hub.fhir.repository import FhirRepository
from insurance.claims_audit.fhir_view import (
    claim_view,
    dispense_view,
    encounter_view,
    person_view,
    prescription_view,
)
from insurance.claims_audit.params import ClaimsAuditParams
from insurance.claims_audit.view import AuditData, Claim, Encounter

CHUNK = 50  # values of one search parameter (under HUB_MAX_SEARCH_VALUES)
PAGE = 200


def look_back_days(params: ClaimsAuditParams) -> int:
    limits = params.excess_quantity
    return max(params.split_admission.readmission_days, limits.chronic_max_days) + 1


def _all(
    store: FhirRepository, resource_type: str, query: list[tuple[str, str]]
) -> Iterator[dict[str, Any]]:
    offset = 0
    while True:
        page = [*query, ("_count", str(PAGE)), ("_offset", str(offset))]
        result = store.search(resource_type, page)
        yield from (match.as_dict() for match in result.matches)
        if not result.more:
            return
        offset += PAGE


def _by_id(
    store: FhirRepository, resource_type: str, ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(ids):
        found.update((r["id"], r) for r in _all(store, resource_type, [("_id", chunk)]))
    return found


def _start_day(encounter: dict[str, Any]) -> date | None:
    start = (encounter.get("period") or {}).get("start")
    return date.fromisoformat(start[:10]) if isinstance(start, str) and len(start) >= 10 else None


def _chunks(values: Iterable[str]) -> Iterator[str]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), CHUNK):
        yield ",".join(ordered[start : start + CHUNK])


def _claims(
    store: FhirRepository, query: list[tuple[str, str]], *, with_benefit: bool = True
) -> list[Claim]:
    raw = list(_all(store, "Claim", [*query, ("use", "claim"), ("status", "active")]))
    responses: dict[str, dict[str, Any]] = {}
    for ids in _chunks(f"Claim/{c['id']}" for c in raw if with_benefit):
        for response in _all(store, "ClaimResponse", [("request", ids)]):
            request = (response.get("request") or {}).get("reference", "")
            responses[request.removeprefix("Claim/")] = response
    return [v for c in raw if (v := claim_view(c, responses.get(str(c["id"])))) is not None]


def load_day(
    store: FhirRepository, day: date, params: ClaimsAuditParams, facility: str | None = None
) -> tuple[AuditData, frozenset[str]]:
    """The view around the claims created on ``day`` (of ``facility``), and those claims' ids."""
    query = [("created", day.isoformat())]
    if facility:
        query.append(("provider", f"Organization/{facility}"))
    of_day = _claims(store, query)
    return _around(store, of_day, day, params), frozenset(c.id for c in of_day)


def load_claim(store: FhirRepository, claim_id: str, params: ClaimsAuditParams) -> AuditData | None:
    """The view around one settled claim (the incremental run), or None if it is not one."""
    found = _claims(store, [("_id", claim_id)])
    if not found:
        return None
    return _around(store, found, found[0].created, params)


def _around(
    store: FhirRepository, claims: list[Claim], day: date, params: ClaimsAuditParams
) -> AuditData:
    persons = {c.person for c in claims}
    encounters = _by_id(store, "Encounter", (e for c in claims for e in c.encounters))
    # The window looks back from the earliest of the claims' encounters, not from the day of
    # settlement: a stay settled at discharge weeks after admission is a readmission by its
    # admission day, and the stay before it may have ended long before the settlement.
    starts = [s for e in encounters.values() if (s := _start_day(e)) is not None and s < day]
    since = (min([day, *starts]) - timedelta(days=look_back_days(params))).isoformat()
    until = day.isoformat()
    known = {c.id: c for c in claims}
    for patients in _chunks(f"Patient/{p}" for p in persons):
        window = [("patient", patients), ("created", f"ge{since}"), ("created", f"le{until}")]
        known.update((c.id, c) for c in _claims(store, window))
    all_claims = tuple(known.values())
    missing = (e for c in all_claims for e in c.encounters if e not in encounters)
    encounters.update(_by_id(store, "Encounter", missing))
    dispenses: dict[str, dict[str, Any]] = {}
    for patients in _chunks(f"Patient/{p}" for p in persons):
        window = [("date", f"ge{since}")]
        encounters.update(
            (e["id"], e) for e in _all(store, "Encounter", [("patient", patients), *window])
        )
        dispenses.update(
            (d["id"], d)
            for d in _all(
                store,
                "MedicationDispense",
                [("patient", patients), ("whenhandedover", f"ge{since}")],
            )
        )
    prescriptions = (
        _prescriptions(store, all_claims, dispenses.values())
        if params.prescription_match.enabled
        else {}
    )
    patients_found = [
        person_view(p) for ids in _chunks(persons) for p in _all(store, "Patient", [("_id", ids)])
    ]
    return AuditData(
        claims=all_claims,
        encounters=tuple(
            ev for e in encounters.values() if (ev := encounter_view(e, all_claims)) is not None
        ),
        dispenses=tuple(dv for d in dispenses.values() if (dv := dispense_view(d)) is not None),
        persons=tuple(patients_found),
        prescriptions=tuple(
            pv for p in prescriptions.values() if (pv := prescription_view(p)) is not None
        ),
    )


def load_settled(
    store: FhirRepository, since: date, until: date, look_back_days: int
) -> tuple[list[Claim], list[Encounter]]:
    """The claims created in ``[since, until)`` (without the fund's share), their encounters
    and the same persons' encounters of ``look_back_days`` before ``since`` (earlier stays)."""
    window = [("created", f"ge{since.isoformat()}"), ("created", f"lt{until.isoformat()}")]
    claims = _claims(store, window, with_benefit=False)
    found: dict[str, dict[str, Any]] = {}
    for ids in _chunks(e for c in claims for e in c.encounters):
        found.update((e["id"], e) for e in _all(store, "Encounter", [("_id", ids)]))
    earlier = [("date", f"ge{(since - timedelta(days=look_back_days)).isoformat()}")]
    for patients in _chunks(f"Patient/{c.person}" for c in claims):
        query = [("patient", patients), *earlier, ("date", f"lt{until.isoformat()}")]
        found.update((e["id"], e) for e in _all(store, "Encounter", query))
    encounters = [v for e in found.values() if (v := encounter_view(e, claims)) is not None]
    return claims, encounters


def _prescriptions(
    store: FhirRepository, claims: tuple[Claim, ...], dispenses: Iterable[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Those of the claims' encounters (the persons' claims of the window included) and those
    the dispenses of the window name (another visit's or facility's): every prescription the
    rules read, which is by encounter or by a dispense's reference. By encounter rather than
    by ``authoredon``: an RDE without ORC-9 has no authoredOn."""
    found: dict[str, dict[str, Any]] = {}
    for ids in _chunks(f"Encounter/{e}" for c in claims for e in c.encounters):
        found.update((r["id"], r) for r in _all(store, "MedicationRequest", [("encounter", ids)]))
    named = {
        rx.removeprefix("MedicationRequest/")
        for d in dispenses
        for ref in d.get("authorizingPrescription") or []
        if (rx := str((ref or {}).get("reference") or "")).startswith("MedicationRequest/")
    }
    for ids in _chunks(named - found.keys()):
        found.update((r["id"], r) for r in _all(store, "MedicationRequest", [("_id", ids)]))
    return found
