"""A FHIR R4 Consent as decision rules, and the checks a Consent must pass beyond the schema.

Pure. :func:`consent_rules` flattens the provision tree into :class:`~consent.pdp.ConsentRule`
rows: a nested provision is an exception *inside* its parent, so it inherits every constraint the
parent sets (its own constraints are intersected with the parent's; a nested provision that
names nothing its parent covers is refused, as is a period outside the parent's; only its
``securityLabel`` replaces the parent's rather than narrowing it, see ``_narrow``). A nested
provision without ``type`` takes its parent's. The root's type may come from ``policyRule``
(v3-ActCode OPTIN -> permit, OPTOUT -> deny) when ``provision.type`` is absent.

Only ``status: active`` consents give rules; withdrawing (inactive, rejected) yields none, so the
next decision no longer sees them. Every problem raises :class:`hub.errors.InvalidResource` with
the FHIRPath of the offending element, so nothing of a bad Consent is ever applied.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from consent.pdp import ConsentRule, ProvisionType
from consent.sensitivity import ACT_CODE_SYSTEM, CONFIDENTIALITY_SYSTEM
from hub.auth.purpose import ACT_REASON_SYSTEM, PurposeOfUse
from hub.errors import InvalidResource
from hub.fhir.search.dates import REGION_TZ, DateFormatError, date_range
from hub.fhir.search_parameters import RESOURCE_DEFS

CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
PATIENT_PRIVACY = "patient-privacy"
RESOURCE_TYPES_SYSTEM = "http://hl7.org/fhir/resource-types"
CONSENT_ACTION_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentaction"
ACTOR_TYPES = ("Organization", "Practitioner", "CareTeam")
LABEL_SYSTEMS = (ACT_CODE_SYSTEM, CONFIDENTIALITY_SYSTEM)
POLICY_RULE_TYPES = {
    "OPTIN": ProvisionType.PERMIT,
    "OPTINR": ProvisionType.PERMIT,
    "OPTOUT": ProvisionType.DENY,
    "OPTOUTE": ProvisionType.DENY,
}
GUARDIAN_TYPES = ("RelatedPerson",)


def invalid(message: str, path: str) -> InvalidResource:
    return InvalidResource(message, expression=[path], code="invalid")


def consent_rules(consent: dict[str, Any]) -> list[ConsentRule]:
    """The rules of an active Consent (none for any other status); raise InvalidResource."""
    rules = flatten_provisions(consent)
    return rules if consent.get("status") == "active" else []


def validate_consent(
    consent: dict[str, Any],
    *,
    patient_birth_date: date | None = None,
    guardian_age: int = 14,
    today: date | None = None,
) -> list[ConsentRule]:
    """Every check of a Consent the hub will store; its rules if active. Raise InvalidResource.

    ``patient_birth_date`` (from the Patient named) enables the minor check: below
    ``guardian_age`` on the consent's date (``dateTime``, else ``today``) a guardian
    (RelatedPerson) must be among the performers; the minor's own signature is not enough.
    """
    if consent.get("resourceType") != "Consent":
        raise invalid("not a Consent", "resourceType")
    _check_scope(consent)
    patient_id = patient_of(consent)
    _check_performers(consent, patient_id, patient_birth_date, guardian_age, today)
    return consent_rules(consent)


def patient_of(consent: dict[str, Any]) -> str:
    """The id in ``Consent.patient`` (``Patient/<id>``), or InvalidResource."""
    reference = (consent.get("patient") or {}).get("reference")
    kind, _, ident = str(reference or "").partition("/")
    if kind != "Patient" or not ident or "/" in ident:
        raise invalid(
            "Consent.patient must reference the patient as Patient/<id>", "Consent.patient"
        )
    return ident


def _check_scope(consent: dict[str, Any]) -> None:
    codings = (consent.get("scope") or {}).get("coding") or []
    if not any(
        c.get("system") == CONSENT_SCOPE_SYSTEM and c.get("code") == PATIENT_PRIVACY
        for c in codings
        if isinstance(c, dict)
    ):
        raise invalid(
            f"Consent.scope must be {CONSENT_SCOPE_SYSTEM}|{PATIENT_PRIVACY}", "Consent.scope"
        )


def _check_performers(
    consent: dict[str, Any],
    patient_id: str,
    birth_date: date | None,
    guardian_age: int,
    today: date | None,
) -> None:
    references = []
    for index, performer in enumerate(consent.get("performer") or []):
        reference = str((performer or {}).get("reference") or "")
        kind, _, ident = reference.partition("/")
        if kind == "Patient" and ident != patient_id:
            raise invalid(
                "a Patient performer must be the patient the consent is about",
                f"Consent.performer[{index}]",
            )
        references.append(kind)
    if birth_date is None:
        return
    signed = _consent_date(consent) or today or date.today()
    if _age(birth_date, signed) < guardian_age and not any(
        kind in GUARDIAN_TYPES for kind in references
    ):
        raise invalid(
            f"the patient was under {guardian_age} when this consent was given: "
            "Consent.performer must name a guardian (RelatedPerson)",
            "Consent.performer",
        )


def _consent_date(consent: dict[str, Any]) -> date | None:
    text = consent.get("dateTime")
    if not isinstance(text, str):
        return None
    try:
        return date_range(text)[0].astimezone(REGION_TZ).date()  # the region's calendar day
    except DateFormatError:
        raise invalid("Consent.dateTime is not a valid dateTime", "Consent.dateTime") from None


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# --- flattening -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    """The constraints a provision inherits from its ancestors."""

    type: ProvisionType | None = None
    actors: frozenset[str] | None = None
    purposes: frozenset[str] | None = None
    resource_types: frozenset[str] | None = None
    labels: frozenset[str] | None = None
    data: frozenset[str] | None = None
    actions: frozenset[str] | None = None
    start: datetime | None = None
    end: datetime | None = None


def flatten_provisions(consent: dict[str, Any]) -> list[ConsentRule]:
    """Every provision as a rule, parents before children; raise InvalidResource."""
    consent_id = str(consent.get("id") or "")
    provision = consent.get("provision")
    root_type = _policy_rule_type(consent)
    if not isinstance(provision, dict):
        if root_type is None:
            raise invalid(
                "a Consent needs provision.type (or a policyRule OPTIN/OPTOUT)",
                "Consent.provision",
            )
        provision = {}
    rules: list[ConsentRule] = []
    _flatten(consent_id, provision, "Consent.provision", 0, _Scope(type=root_type), rules)
    return rules


def _policy_rule_type(consent: dict[str, Any]) -> ProvisionType | None:
    for coding in (consent.get("policyRule") or {}).get("coding") or []:
        if isinstance(coding, dict) and coding.get("system") == ACT_CODE_SYSTEM:
            found = POLICY_RULE_TYPES.get(str(coding.get("code")))
            if found is not None:
                return found
    return None


def _flatten(
    consent_id: str,
    provision: dict[str, Any],
    path: str,
    depth: int,
    parent: _Scope,
    out: list[ConsentRule],
) -> None:
    scope = _narrow(provision, path, parent)
    if scope.type is None:
        raise invalid("provision.type must be permit or deny", f"{path}.type")
    out.append(
        ConsentRule(
            consent_id,
            path,
            scope.type,
            depth,
            scope.actors,
            scope.purposes,
            scope.resource_types,
            scope.labels,
            scope.data,
            scope.actions,
            scope.start,
            scope.end,
        )
    )
    for index, child in enumerate(provision.get("provision") or []):
        if not isinstance(child, dict):
            raise invalid("a nested provision must be an object", f"{path}.provision[{index}]")
        _flatten(consent_id, child, f"{path}.provision[{index}]", depth + 1, scope, out)


def _narrow(provision: dict[str, Any], path: str, parent: _Scope) -> _Scope:
    kind = provision.get("type")
    if kind is not None and kind not in ("permit", "deny"):
        raise invalid("provision.type must be permit or deny", f"{path}.type")
    start, end = _period(provision.get("period"), f"{path}.period")
    start = max(filter(None, (start, parent.start)), default=None)
    end = min(filter(None, (end, parent.end)), default=None)
    if start is not None and end is not None and start >= end:
        raise invalid("the provision's period is empty or outside its parent's", f"{path}.period")
    values = {
        "actors": _actors(provision, path),
        "purposes": _purposes(provision, path),
        "resource_types": _classes(provision, path),
        "labels": _labels(provision, path),
        "data": _data(provision, path),
        "actions": _actions(provision, path),
    }
    narrowed: dict[str, frozenset[str] | None] = {}
    for name, own in values.items():
        inherited: frozenset[str] | None = getattr(parent, name)
        if own is None:
            narrowed[name] = inherited
            continue
        # Labels of a nested provision replace the parent's: sets mix confidentiality (N, R)
        # and sensitivity codes (PSY, HIV), which are orthogonal, so an intersection misleads.
        combined = own if inherited is None or name == "labels" else own & inherited
        if not combined:
            raise invalid(f"the provision's {name} lie outside its parent's", path)
        narrowed[name] = combined
    new_type = ProvisionType(kind) if kind is not None else parent.type
    return replace(parent, type=new_type, start=start, end=end, **narrowed)


def _period(value: object, path: str) -> tuple[datetime | None, datetime | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise invalid("period must be an object", path)
    try:
        start = date_range(value["start"])[0] if value.get("start") else None
        end = date_range(value["end"])[1] if value.get("end") else None
    except (DateFormatError, TypeError):
        raise invalid("period start/end must be FHIR dateTimes", path) from None
    if start is not None and end is not None and start >= end:
        raise invalid("period.start must not be after period.end", path)
    return start, end


def _actors(provision: dict[str, Any], path: str) -> frozenset[str] | None:
    found: set[str] = set()
    for index, actor in enumerate(provision.get("actor") or []):
        where = f"{path}.actor[{index}].reference"
        reference = str(((actor or {}).get("reference") or {}).get("reference") or "")
        kind, _, ident = reference.partition("/")
        if kind not in ACTOR_TYPES or not ident or "/" in ident:
            allowed = ", ".join(ACTOR_TYPES)
            raise invalid(f"an actor must reference one of {allowed} as Type/<id>", where)
        found.add(reference)
    return frozenset(found) if found else None


def _purposes(provision: dict[str, Any], path: str) -> frozenset[str] | None:
    found: set[str] = set()
    for index, coding in enumerate(provision.get("purpose") or []):
        coding = coding or {}
        if coding.get("system") != ACT_REASON_SYSTEM or coding.get("code") not in set(PurposeOfUse):
            known = ", ".join(PurposeOfUse)
            raise invalid(
                f"purpose must be a {ACT_REASON_SYSTEM} code of the value set ({known})",
                f"{path}.purpose[{index}]",
            )
        found.add(str(coding["code"]))
    return frozenset(found) if found else None


def _classes(provision: dict[str, Any], path: str) -> frozenset[str] | None:
    found: set[str] = set()
    for index, coding in enumerate(provision.get("class") or []):
        coding = coding or {}
        code = coding.get("code")
        if coding.get("system") not in (None, RESOURCE_TYPES_SYSTEM) or code not in RESOURCE_DEFS:
            raise invalid(
                f"class must be a resource type this hub stores ({RESOURCE_TYPES_SYSTEM})",
                f"{path}.class[{index}]",
            )
        found.add(str(code))
    return frozenset(found) if found else None


def _labels(provision: dict[str, Any], path: str) -> frozenset[str] | None:
    found: set[str] = set()
    for index, coding in enumerate(provision.get("securityLabel") or []):
        coding = coding or {}
        if coding.get("system") not in LABEL_SYSTEMS or not coding.get("code"):
            raise invalid(
                "securityLabel must be a v3-ActCode sensitivity or v3-Confidentiality code",
                f"{path}.securityLabel[{index}]",
            )
        found.add(str(coding["code"]))
    return frozenset(found) if found else None


def _data(provision: dict[str, Any], path: str) -> frozenset[str] | None:
    found: set[str] = set()
    for index, item in enumerate(provision.get("data") or []):
        item = item or {}
        where = f"{path}.data[{index}]"
        if item.get("meaning") == "authoredby":
            raise invalid("data.meaning authoredby is not supported", where)
        reference = str((item.get("reference") or {}).get("reference") or "")
        kind, _, ident = reference.partition("/")
        if kind not in RESOURCE_DEFS or not ident:
            raise invalid("data.reference must be Type/<id> of a stored type", where)
        found.add(reference)
    return frozenset(found) if found else None


def _actions(provision: dict[str, Any], path: str) -> frozenset[str] | None:
    found: set[str] = set()
    for index, concept in enumerate(provision.get("action") or []):
        codes = [
            str(c.get("code"))
            for c in (concept or {}).get("coding") or []
            if isinstance(c, dict) and c.get("system") == CONSENT_ACTION_SYSTEM and c.get("code")
        ]
        if not codes:
            raise invalid(
                f"action must be a {CONSENT_ACTION_SYSTEM} code", f"{path}.action[{index}]"
            )
        found.update(codes)
    return frozenset(found) if found else None
