"""Who may write what: the store's one decision point for every write.

``FhirStore`` asks :func:`decide_write` before any row changes, on every path that writes
through it (create, update, delete, their conditional forms, batch and transaction Bundles,
HL7 v2 processing, FHIR inbound, bulk load), with the resource as it is now (``current``: None
for a create) and as it would be (``new``: None for a delete). Pure: no I/O, so every rule is
tested without a database. The consent side of a write (may the writer see what it changes?)
is the consent guard's, asked by the store next to this.

The rules, by role:

- **operator**: any write (corrections, repairs); audited like every write.
- **auditor**: none (read and search only).
- **insurance-auditor** (the fund's auditors): reviews a claims-audit finding, nothing else: an
  update of a ``DetectedIssue`` that changes only its ``status``, ``extension`` (the review) and
  ``mitigation``; what was found (code, evidence, implicated records, patient) stays.
- **DetectedIssue** (claims-audit findings): written by the hub (an operator identity) and
  reviewed by insurance auditors; no facility or patient writes one.
- **facility** (its system or a practitioner): creates in its own name (the store stamps the
  origin); changes or deletes only what it originated (``meta.source``), or what an amend rule
  gives it: the facility that owns a Task (``Task.owner``) may update it, but not re-address it
  (``for``, ``requester``, ``owner``, ``focus`` stay). An ``Endpoint`` it writes must be its own
  (``managingOrganization``): it cannot receive in another facility's name. A
  ``PaymentReconciliation`` it writes (its day's 3202 details) names it as ``requestor`` and
  carries no ``outcome`` or ``paymentIssuer``: the reconciliation's result is the hub's.
- **patient** (a patient token): writes only inside its own compartment: every Patient the
  resource refers to, anywhere in it, is the patient; never another patient as subject or
  participant. It creates no Patient; on its own Patient record it may change contact details
  only (telecom, address, contact, communication), not who the record is about (identifiers,
  name, birth date, gender ...), which the patient index matches on. Its own Consents it may
  change or withdraw, whoever recorded them; other resources only when its own app wrote them.
- **Consent**: nobody deletes one; who may create or change one is ``consent.write_rules``.

Refusals raise :class:`hub.errors.Forbidden` (403), or MethodNotAllowed (405) for a Consent
deletion; the API turns them into an OperationOutcome and the audit log records them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from consent.write_rules import ConsentWriteRefused, check_facility_consent_write
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.errors import Forbidden, MethodNotAllowed
from hub.fhir.origin import origin_facility, origin_patient
from hub.fhir.search.extract import split_reference
from hub.fhir.write_hooks import WriteKind

PATIENT = "Patient"
# What a patient may change on their own Patient record: contact details, not identity.
PATIENT_EDITABLE = frozenset(
    {"telecom", "address", "contact", "communication", "maritalStatus", "photo"}
)
# Elements an amending Task owner may not change: who asked, for whom, about what, addressed to.
TASK_FIXED = ("for", "requester", "owner", "focus", "basedOn", "intent")
_BOOKKEEPING = frozenset({"meta", "text", "id"})
FINDING = "DetectedIssue"
RECONCILIATION = "PaymentReconciliation"
# What an insurance auditor's review may change on a finding.
FINDING_REVIEWABLE = frozenset({"status", "extension", "mitigation"})


def decide_write(
    actor: Actor,
    kind: WriteKind,
    resource_type: str,
    current: dict[str, Any] | None,
    new: dict[str, Any] | None,
    base_url: str = "",
) -> None:
    """Raise unless ``actor`` may make this write (see the module docstring)."""
    if resource_type == "Consent" and kind is WriteKind.DELETE:
        # Operators included: the history of a patient's decisions is the record of consent.
        raise MethodNotAllowed(
            "a Consent is never deleted: withdraw it with a new version (status inactive)"
        )
    if actor.role is Role.operator:
        return
    if actor.role is Role.auditor:
        raise Forbidden("auditors read and search; they do not write")
    if actor.role is Role.insurance_auditor:
        _insurance_auditor_write(kind, resource_type, current, new)
        return
    if resource_type == FINDING:
        raise Forbidden("claims-audit findings are written by the hub and reviewed by auditors")
    if actor.patient is not None or actor.role is Role.patient:
        _patient_write(actor, kind, resource_type, current, new, base_url)
        return
    _facility_write(actor.facility, kind, resource_type, current, new)


def _insurance_auditor_write(
    kind: WriteKind, resource_type: str, current: dict[str, Any] | None, new: dict[str, Any] | None
) -> None:
    if resource_type != FINDING or kind is not WriteKind.UPDATE or current is None or new is None:
        raise Forbidden("an insurance auditor only reviews claims-audit findings (DetectedIssue)")
    changed = _changed_elements(current, new) - FINDING_REVIEWABLE
    if changed:
        raise Forbidden(
            "a review changes only the finding's status and review; not "
            f"{', '.join(sorted(changed))}"
        )


# -- facilities ----------------------------------------------------------------------------


def _facility_write(
    facility: str,
    kind: WriteKind,
    resource_type: str,
    current: dict[str, Any] | None,
    new: dict[str, Any] | None,
) -> None:
    if (
        current is not None
        and origin_facility(current) != facility
        and not _amends_as_task_owner(facility, kind, resource_type, current, new)
    ):
        raise Forbidden(
            f"{resource_type}/{current.get('id')} was recorded by another facility or by the "
            "hub; a facility changes only what it recorded"
        )
    if resource_type == "Consent" and new is not None:
        try:
            check_facility_consent_write(facility, current, new)
        except ConsentWriteRefused as exc:
            raise Forbidden(str(exc)) from None
    if resource_type == RECONCILIATION and new is not None:
        _own_reconciliation(facility, new)
    if resource_type == "Endpoint" and new is not None:
        managing = _reference(new.get("managingOrganization"))
        if managing != f"Organization/{facility}":
            raise Forbidden(
                "an Endpoint written by a facility must be its own: managingOrganization "
                f"must be Organization/{facility}"
            )


def _own_reconciliation(facility: str, new: dict[str, Any]) -> None:
    if _reference(new.get("requestor")) != f"Organization/{facility}":
        raise Forbidden(
            "a PaymentReconciliation written by a facility is its own: requestor must be "
            f"Organization/{facility}"
        )
    if "outcome" in new or "paymentIssuer" in new:
        raise Forbidden("the outcome of a reconciliation (and any recovery) is the hub's to write")


def _amends_as_task_owner(
    facility: str,
    kind: WriteKind,
    resource_type: str,
    current: dict[str, Any],
    new: dict[str, Any] | None,
) -> bool:
    if resource_type != "Task" or kind is not WriteKind.UPDATE or new is None:
        return False
    if _reference(current.get("owner")) != f"Organization/{facility}":
        return False
    if any(current.get(name) != new.get(name) for name in TASK_FIXED):
        raise Forbidden(
            "the owner of a Task may update its progress but not who asked, for whom or about what"
        )
    return True


# -- patients --------------------------------------------------------------------------------


def _patient_write(
    actor: Actor,
    kind: WriteKind,
    resource_type: str,
    current: dict[str, Any] | None,
    new: dict[str, Any] | None,
    base_url: str,
) -> None:
    me = actor.patient
    if me is None:
        raise Forbidden("a patient token must name its patient to write")
    for body in (current, new):
        if body is None:
            continue
        others = sorted(p for p in referenced_patients(body, base_url) if p != me)
        if others or (resource_type == PATIENT and body.get("id") != me):
            raise Forbidden("a patient writes only inside their own record")
    if resource_type == PATIENT:
        if kind is not WriteKind.UPDATE or current is None or new is None:
            raise Forbidden("a patient may update their own Patient record, not create or delete")
        changed = _changed_elements(current, new) - PATIENT_EDITABLE
        if changed:
            raise Forbidden(
                "a patient may change only contact details of their record "
                f"({', '.join(sorted(PATIENT_EDITABLE))}); not {', '.join(sorted(changed))}"
            )
        return
    if resource_type == "Consent":
        return  # the patient's own consent, whoever recorded it: theirs to change or withdraw
    if current is not None and origin_patient(current) != me:
        raise Forbidden(
            f"{resource_type}/{current.get('id')} was recorded by a facility; a patient changes "
            "only what their own app recorded"
        )


def referenced_patients(resource: dict[str, Any], base_url: str = "") -> set[str]:
    """Every Patient id (or foreign Patient URL) the resource refers to, anywhere in it."""
    found: set[str] = set()
    for reference in _references(resource):
        target_type, target_id = split_reference(reference, base_url)
        if target_type == PATIENT:
            found.add(target_id)
    return found


def _references(node: Any) -> Iterator[str]:
    stack = [node]
    while stack:  # iterative: a deeply nested body must not exhaust the stack
        item = stack.pop()
        if isinstance(item, dict):
            reference = item.get("reference")
            if isinstance(reference, str):
                yield reference
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _changed_elements(current: dict[str, Any], new: dict[str, Any]) -> set[str]:
    names = (set(current) | set(new)) - _BOOKKEEPING
    return {name for name in names if current.get(name) != new.get(name)}


def _reference(value: Any) -> str:
    reference = value.get("reference") if isinstance(value, dict) else None
    return reference if isinstance(reference, str) else ""
