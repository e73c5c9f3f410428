"""What the enforcement point and the write path need from the database, around the pure parts.

- :func:`patient_rules`: a patient's consent rules -- the person's, across every record the
  patient index links to them -- loaded once per session (``session.info``), so
  a search returning a hundred Observations of one patient reads that patient's consents once.
  The Consent write hook empties the cache, so a withdrawal in the same transaction counts at once.
- :func:`check_consent_write`: the checks a Consent must pass before it is stored (run from the
  write hook, inside the writing transaction: a refusal rolls the whole write back).

Consents are found by the store's system reads (``Consent.patient``), not through its
search: loading them is the hub's own work for a decision, not the caller's search, so it must
neither be audited as one nor be narrowed by the caller's scopes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy.orm import Session

from consent.pdp import ConsentRule
from consent.policy import get_policy
from consent.rules import consent_rules, patient_of, validate_consent
from hub.errors import InvalidResource
from hub.fhir.system_reads import StoreSystemReads
from hub.mpi.lookup import same_person_records
from hub.region.facilities import load_facilities

if TYPE_CHECKING:
    from hub.fhir.store import FhirStore

log = logging.getLogger("consent")
CACHE_KEY = "consent.rules"  # session.info[CACHE_KEY]: {patient id: [ConsentRule, ...]}
SIGNED_FORM_ROLES = frozenset({"facility-system", "practitioner"})


def load_consents(session: Session, patient_id: str) -> list[dict[str, Any]]:
    """Every current (not deleted) Consent about ``patient_id``, whatever its status."""
    # Protected identifiers stay sealed: decisions read provisions, never identifier values.
    return StoreSystemReads(session).referencing("Consent", "patient", f"Patient/{patient_id}")


def active_consents(session: Session, patient_id: str) -> list[dict[str, Any]]:
    return [c for c in load_consents(session, patient_id) if c.get("status") == "active"]


def patient_rules(session: Session, patient_id: str) -> list[ConsentRule]:
    """The rules of the person's active consents (see :func:`rules_for`), cached."""
    return rules_for(session, [patient_id])[patient_id]


def rules_for(session: Session, patient_ids: Sequence[str]) -> dict[str, list[ConsentRule]]:
    """For each Patient record: the rules of the active consents of the **person** -- written
    against this record or against any record the patient index links to the same person --
    cached for the session, with one query for the records not yet cached.

    A stored Consent that no longer flattens (it passed the write checks, so only a code change
    can cause this) is skipped and logged by id.
    """
    cache: dict[str, list[ConsentRule]] = session.info.setdefault(CACHE_KEY, {})
    missing = sorted({p for p in patient_ids if p not in cache})
    for start in range(0, len(missing), 500):
        groups = same_person_records(session, missing[start : start + 500])
        targets = sorted({record for group in groups.values() for record in group})
        by_record = _active_consents_of(session, targets)
        for patient_id, group in groups.items():
            seen: set[str] = set()
            rules: list[ConsentRule] = []
            for record in sorted(group):
                for consent_id, content in by_record.get(record, []):
                    if consent_id in seen:
                        continue
                    seen.add(consent_id)
                    try:
                        rules.extend(_flattened(content))
                    except InvalidResource as exc:
                        log.warning("skipping Consent/%s: %s", consent_id, exc.diagnostics)
            cache[patient_id] = rules
    return {p: cache[p] for p in patient_ids}


def _active_consents_of(
    session: Session, patient_ids: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    """(id, stored text) of the active consents written against each of these records."""
    found: dict[str, list[tuple[str, str]]] = {}
    consents = StoreSystemReads(session).referencing_any(
        "Consent", "patient", "Patient", patient_ids
    )
    for patient_id, consent in consents:
        if consent.get("status") == "active":
            # As stored text: the key of the flattened rules' cache (a new version, new text).
            found.setdefault(patient_id, []).append(
                (str(consent["id"]), orjson.dumps(consent).decode())
            )
    return found


@lru_cache(maxsize=4096)
def _flattened(content: str) -> tuple[ConsentRule, ...]:
    """A stored Consent's rules, by its stored text (a new version is new text): flattening is
    pure, and a search over many patients would otherwise redo it for each, every time."""
    return tuple(consent_rules(orjson.loads(content)))


def forget_cached_rules(session: Session) -> None:
    """Drop the session's cached rules (after any Consent write)."""
    session.info.pop(CACHE_KEY, None)


def check_consent_write(store: FhirStore, consent: dict[str, Any]) -> list[ConsentRule]:
    """Refuse (InvalidResource) a Consent the hub must not store; its rules if active.

    Beyond :func:`consent.rules.validate_consent`: the Patient must exist (its birth date drives
    the guardian rule), every Organization named (custodian, performer, provision actor) must
    exist or be a registered facility code, and a facility recording on the patient's behalf
    must attach the signed form (``sourceAttachment`` or ``sourceReference``).
    """
    patient_id = patient_of(consent)
    patient = _current(store.session, "Patient", patient_id)
    if patient is None:
        raise InvalidResource(
            "Consent.patient names a Patient this hub does not hold",
            expression=["Consent.patient"],
            code="not-found",
        )
    rules = validate_consent(
        consent,
        # The guardian rule is about who signs: a policy grant the hub records is signed by no one.
        patient_birth_date=None if _policy_grant(store, consent) else _birth_date(patient),
        guardian_age=get_policy().guardian_age,
    )
    for path, organization_id in _organizations(consent):
        if not _known_organization(store.session, organization_id):
            raise InvalidResource(
                "the Consent names an Organization that is neither stored nor a registered "
                "facility",
                expression=[path],
                code="not-found",
            )
    if str(store.actor.role) in SIGNED_FORM_ROLES and not (
        consent.get("sourceAttachment") or consent.get("sourceReference")
    ):
        raise InvalidResource(
            "a facility recording a consent on the patient's behalf must attach the signed form "
            "(Consent.sourceAttachment or Consent.sourceReference)",
            expression=["Consent.source"],
            code="required",
        )
    return rules


def _policy_grant(store: FhirStore, consent: dict[str, Any]) -> bool:
    """A consent the hub records itself under a named policy (a referral's access grant), with
    no one signing it: not the patient's or a guardian's signature."""
    return (
        str(store.actor.role) == "operator"
        and bool(consent.get("policy"))
        and not consent.get("performer")
    )


def _current(session: Session, resource_type: str, resource_id: str) -> dict[str, Any] | None:
    return StoreSystemReads(session).current(resource_type, resource_id)


def _birth_date(patient: dict[str, Any]) -> date | None:
    text = patient.get("birthDate")
    if not isinstance(text, str) or len(text) != 10:
        return None  # absent or partial (year, year-month): no minor check possible
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _organizations(consent: dict[str, Any]) -> list[tuple[str, str]]:
    """(FHIRPath, id) of every Organization reference the Consent makes."""
    found: list[tuple[str, str]] = []

    def add(path: str, holder: object) -> None:
        reference = holder.get("reference") if isinstance(holder, dict) else None
        if isinstance(reference, str) and reference.startswith("Organization/"):
            found.append((path, reference.removeprefix("Organization/")))

    for index, item in enumerate(consent.get("organization") or []):
        add(f"Consent.organization[{index}]", item)
    for index, item in enumerate(consent.get("performer") or []):
        add(f"Consent.performer[{index}]", item)

    def walk(provision: object, path: str) -> None:
        if not isinstance(provision, dict):
            return
        for index, actor in enumerate(provision.get("actor") or []):
            add(f"{path}.actor[{index}].reference", (actor or {}).get("reference"))
        for index, child in enumerate(provision.get("provision") or []):
            walk(child, f"{path}.provision[{index}]")

    walk(consent.get("provision"), "Consent.provision")
    return found


def _known_organization(session: Session, organization_id: str) -> bool:
    return organization_id in _facility_codes() or (
        _current(session, "Organization", organization_id) is not None
    )


@lru_cache(maxsize=1)
def _facility_codes() -> frozenset[str]:
    return frozenset(facility.code for facility in load_facilities())
