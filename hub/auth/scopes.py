"""SMART App Launch v2 resource scopes: parsing, checking and narrowing.

A resource scope is ``<context>/<type>.<permissions>``:

* context: ``patient`` (the patient in the token's ``patient`` claim), ``user`` (what the
  authenticated user may see) or ``system`` (no user; SMART Backend Services);
* type: a FHIR resource type name or ``*``;
* permissions: v2 letters, a non-empty subsequence of ``cruds`` in that order (create, read,
  update, delete, search), or the v1 forms ``read`` (= ``rs``), ``write`` (= ``cud``) and ``*``
  (= ``cruds``).

v2 also allows a query restriction, ``patient/Observation.rs?category=laboratory``. The hub
does not enforce such restrictions, so such a scope is accepted but **grants nothing**: its
``permissions`` are empty, it never makes :func:`allows` true and :func:`narrow` passes it on
only when the allowed scope string contains exactly the same text. Granting the unrestricted
scope instead would give the client more than it asked for.

Scopes that are not resource scopes (``openid``, ``fhirUser``, ``launch/patient``,
``offline_access``, ``online_access``...) are ignored by :func:`parse_scopes`.

The context decides *whose* data a scope reaches, which this module does not know: :func:`allows`
answers only "may this token perform this interaction on this type at all", and the caller
restricts patient-context tokens to the patient's compartment (:func:`patient_context_only`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, cast

Context = Literal["patient", "user", "system"]


class Interaction(StrEnum):
    create = "c"
    read = "r"
    update = "u"
    delete = "d"
    search = "s"


class ScopeError(ValueError):
    """A resource scope that does not follow the SMART grammar."""


_ORDER = "cruds"
_V1_PERMISSIONS: dict[str, frozenset[Interaction]] = {
    "read": frozenset({Interaction.read, Interaction.search}),
    "write": frozenset({Interaction.create, Interaction.update, Interaction.delete}),
    "*": frozenset(Interaction),
}
_V2_PERMISSIONS = re.compile(r"c?r?u?d?s?")
_RESOURCE_SCOPE = re.compile(
    r"(?P<context>patient|user|system)/(?P<type>[A-Z][A-Za-z]*|\*)"
    r"\.(?P<permissions>[a-z]+|\*)(?:\?(?P<query>.+))?"
)
_CONTEXTS = ("patient/", "user/", "system/")
# Types a wildcard (``*``) scope does not reach: only a scope naming the type grants it. The
# claims-audit findings (DetectedIssue) are for the insurance auditors, not for every system
# token that holds ``system/*.cruds``.
NAMED_ONLY_TYPES = frozenset({"DetectedIssue"})


def _covers(scope_type: str, resource_type: str) -> bool:
    if scope_type == "*":
        return resource_type not in NAMED_ONLY_TYPES
    return scope_type == resource_type


@dataclass(frozen=True)
class Scope:
    context: Context
    resource_type: str
    permissions: frozenset[Interaction]
    raw: str

    @property
    def restricted(self) -> bool:
        """True for a v2 scope with a query restriction (accepted, grants nothing)."""
        return "?" in self.raw

    def grants(self, resource_type: str, interaction: Interaction) -> bool:
        return interaction in self.permissions and _covers(self.resource_type, resource_type)


def parse_scope(s: str) -> Scope:
    """Parse one resource scope; raise :class:`ScopeError` when it is malformed."""
    match = _RESOURCE_SCOPE.fullmatch(s)
    if match is None:
        raise ScopeError(f"malformed resource scope: {s!r}")
    context = cast(Context, match["context"])
    letters = match["permissions"]
    if letters in _V1_PERMISSIONS:
        if match["query"] is not None:
            raise ScopeError(f"query restrictions need v2 permissions: {s!r}")
        permissions = _V1_PERMISSIONS[letters]
    elif _V2_PERMISSIONS.fullmatch(letters):
        permissions = frozenset(Interaction(letter) for letter in letters)
    else:
        raise ScopeError(f"permissions must be v1 read/write/* or v2 letters from 'cruds': {s!r}")
    if match["query"] is not None:
        permissions = frozenset()
    return Scope(context, match["type"], permissions, s)


def is_resource_scope(s: str) -> bool:
    """True when ``s`` is meant as a resource scope (starts with patient/, user/ or system/)."""
    return s.startswith(_CONTEXTS)


def parse_scopes(text: str) -> tuple[Scope, ...]:
    """Parse a space-separated scope string, skipping scopes that are not resource scopes.

    Raises :class:`ScopeError` when one of the resource scopes is malformed.
    """
    return tuple(parse_scope(s) for s in text.split() if is_resource_scope(s))


def allows(scopes: Iterable[Scope], resource_type: str, interaction: Interaction) -> bool:
    """True when some scope grants ``interaction`` on ``resource_type`` (in any context)."""
    return any(scope.grants(resource_type, interaction) for scope in scopes)


def patient_context_only(scopes: Iterable[Scope]) -> bool:
    """True when every scope that grants anything is a ``patient/`` scope.

    Vacuously true when no scope grants anything, which is the restrictive answer.
    """
    return all(scope.context == "patient" for scope in scopes if scope.permissions)


def format_scope(context: Context, resource_type: str, permissions: Iterable[Interaction]) -> str:
    """The v2 text of a scope, permission letters in ``cruds`` order."""
    letters = "".join(sorted(set(permissions), key=_ORDER.index))
    if not letters:
        raise ScopeError("a scope needs at least one permission")
    return f"{context}/{resource_type}.{letters}"


def narrow(requested: str, allowed: str) -> str:
    """The scope string to grant: what was requested, cut down to what ``allowed`` covers.

    For each requested resource scope, every allowed scope of the same context contributes the
    intersection of types (``*`` meets anything) and of permissions. So with ``system/*.cruds``
    allowed, ``system/Patient.rs`` is granted as asked; with ``system/Patient.rs`` allowed,
    ``system/Patient.cruds`` becomes ``system/Patient.rs`` and ``system/*.rs`` becomes
    ``system/Patient.rs``. A requested scope covered in full keeps its original text (a v1
    client gets v1 text back). Anything else (non-resource scopes such as ``offline_access``,
    query-restricted scopes) is granted only when ``allowed`` contains exactly that text.

    An empty request is granted ``allowed``. Raises :class:`ScopeError` when either string
    contains a malformed resource scope.
    """
    if not requested.split():
        return " ".join(allowed.split())
    allowed_texts = set(allowed.split())
    allowed_scopes = [s for s in parse_scopes(allowed) if s.permissions]
    granted: list[str] = []
    for text in requested.split():
        if not is_resource_scope(text) or parse_scope(text).restricted:
            if text in allowed_texts:
                granted.append(text)
            continue
        granted.extend(_narrow_one(parse_scope(text), allowed_scopes))
    return " ".join(dict.fromkeys(granted))


def _narrow_one(want: Scope, allowed: list[Scope]) -> list[str]:
    # Permissions granted per resource type, in the order the types first appear.
    by_type: dict[str, set[Interaction]] = {}
    for have in allowed:
        if have.context != want.context:
            continue
        if want.resource_type == "*":
            resource_type = have.resource_type
        elif _covers(have.resource_type, want.resource_type):
            resource_type = want.resource_type
        else:
            continue
        common = want.permissions & have.permissions
        if common:
            by_type.setdefault(resource_type, set()).update(common)
    if want.resource_type in by_type and by_type[want.resource_type] >= want.permissions:
        # The wildcard does not carry the named-only types: they are granted by name.
        return [want.raw] + [
            format_scope(want.context, resource_type, permissions)
            for resource_type, permissions in by_type.items()
            if want.resource_type == "*" and resource_type in NAMED_ONLY_TYPES
        ]
    # A type already covered by the wildcard adds nothing beyond what the wildcard grants.
    wildcard = by_type.get("*", set())
    return [
        format_scope(want.context, resource_type, permissions)
        for resource_type, permissions in by_type.items()
        if resource_type == "*" or resource_type in NAMED_ONLY_TYPES or not permissions <= wildcard
    ]
