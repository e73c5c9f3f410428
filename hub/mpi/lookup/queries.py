"""Reading the patient index: $match, PDQm-style person search, golden records, PIXm.

Grades of a ``$match`` or search hit (FHIR ``match-grade``), from the active model's thresholds:

* ``certain``  probability >= ``upper_threshold`` (what registration links automatically);
* ``probable`` probability >= ``lower_threshold`` (what registration queues for review);
* ``possible`` probability >= ``POSSIBLE_FLOOR`` (0.1);
* below that the person is *not returned at all*: ``certainly-not`` is never emitted, because
  listing every blocked candidate would disclose unrelated people's golden records.

Person search returns only hits at or above ``lower_threshold`` (certain or probable), or the
exact holders of an identifier when one is given. Merged persons are never returned by matching
or search (only active persons are candidates); reading a merged enterprise id, or
cross-referencing an identifier still filed under one, resolves to the surviving person.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import Conflict, FhirError, Gone, NotFound
from hub.fhir.systems import (
    ENTERPRISE_ID_SYSTEM,
    INSURANCE_PERSON_SYSTEM,
    NAMESPACE,
    RESIDENT_ID_SYSTEM,
)
from hub.mpi import store as db
from hub.mpi.matching.features import MatchFeatures
from hub.mpi.matching.identifiers import InvalidIdError, parse_id
from hub.mpi.matching.model import Decision, MatchModel
from hub.mpi.models import IdentifierRow, PersonRow, SourceRow
from hub.mpi.registration.online import find_candidates
from hub.mpi.stewardship.links import follow_merges
from hub.mpi.training.registry import active_model
from hub.security.fields import FieldCipher

POSSIBLE_FLOOR = 0.1
_FACILITY_PREFIX = f"{NAMESPACE}/sid/facility/"
_PERSON_DOMAINS = frozenset({RESIDENT_ID_SYSTEM, INSURANCE_PERSON_SYSTEM, ENTERPRISE_ID_SYSTEM})


class MatchGrade(StrEnum):
    CERTAIN = "certain"
    PROBABLE = "probable"
    POSSIBLE = "possible"
    CERTAINLY_NOT = "certainly-not"


class PixmError(FhirError):
    """An ITI-83 failure: PIXm puts its fixed message in ``details.text`` as well."""

    def outcome(self) -> dict[str, Any]:
        body = super().outcome()
        body["issue"][0]["details"] = {"text": self.diagnostics}
        return body


def grade(model: MatchModel, probability: float) -> MatchGrade:
    if probability >= model.upper_threshold:
        return MatchGrade.CERTAIN
    if probability >= model.lower_threshold:
        return MatchGrade.PROBABLE
    if probability >= POSSIBLE_FLOOR:
        return MatchGrade.POSSIBLE
    return MatchGrade.CERTAINLY_NOT


@dataclass(frozen=True)
class PersonHit:
    person_id: int
    enterprise_id: str
    golden: dict[str, Any]
    probability: float | None = None  # None: found by identifier, not scored
    grade: MatchGrade | None = None


@dataclass(frozen=True)
class MatchResult:
    hits: list[PersonHit]
    withheld: int = 0  # certain matches left out because onlyCertainMatches found several


# -- matching and search --------------------------------------------------------------------


def _scored(
    session: Session, cipher: FieldCipher, features: MatchFeatures, floor: float
) -> list[tuple[int, float, MatchGrade]]:
    model = active_model(session)
    return [
        (c.person_id, c.probability, _capped_grade(grade(model, c.probability), c.ceiling))
        for c in find_candidates(session, cipher, model, features)
        if c.probability >= floor
    ]


def _capped_grade(found: MatchGrade, ceiling: Decision) -> MatchGrade:
    """A pair the household rules would not link is not ``certain`` (a twin is at most a
    ``possible`` match of the other; a namesake ``probable``)."""
    if ceiling is Decision.NEW and found in (MatchGrade.CERTAIN, MatchGrade.PROBABLE):
        return MatchGrade.POSSIBLE
    if ceiling is Decision.REVIEW and found is MatchGrade.CERTAIN:
        return MatchGrade.PROBABLE
    return found


def _hits(
    session: Session, cipher: FieldCipher, ranked: list[tuple[int, float | None, MatchGrade | None]]
) -> list[PersonHit]:
    ids = [person_id for person_id, _, _ in ranked]
    rows = {
        p.id: p for p in session.execute(select(PersonRow).where(PersonRow.id.in_(ids))).scalars()
    }
    return [
        PersonHit(pid, rows[pid].enterprise_id, db.read_golden(cipher, rows[pid]), prob, level)
        for pid, prob, level in ranked
        if pid in rows
    ]


def match_patient(
    session: Session,
    cipher: FieldCipher,
    features: MatchFeatures,
    *,
    only_certain: bool,
    count: int,
) -> MatchResult:
    """FHIR ``Patient/$match``: golden records of the best-scoring persons, best first.

    With ``only_certain`` only ``certain`` hits are kept, and when there are several of them
    none is returned (R4: "if there are multiple potential matches, the match should not
    return the results"); ``withheld`` then says how many were left out.
    """
    scored = _scored(session, cipher, features, POSSIBLE_FLOOR)
    if only_certain:
        scored = [s for s in scored if s[2] is MatchGrade.CERTAIN]
        if len(scored) > 1:
            return MatchResult([], withheld=len(scored))
    ranked: list[tuple[int, float | None, MatchGrade | None]] = list(scored[:count])
    return MatchResult(_hits(session, cipher, ranked))


def search_persons(
    session: Session,
    cipher: FieldCipher,
    features: MatchFeatures | None,
    identifier: tuple[str, str] | None,
    *,
    count: int,
) -> list[PersonHit]:
    """PDQm-style search: persons matching the demographics (>= lower threshold), the exact
    holders of ``identifier``, or both at once (the holders that also match)."""
    ranked: list[tuple[int, float | None, MatchGrade | None]] = []
    if features is not None:
        ranked = list(_scored(session, cipher, features, active_model(session).lower_threshold))
    if identifier is not None:
        holders = _active_survivors(session, _holders(session, cipher, *identifier))
        if features is None:
            ranked = [(pid, None, None) for pid in sorted(holders)]
        else:
            ranked = [r for r in ranked if r[0] in holders]
    return _hits(session, cipher, ranked[:count])


@dataclass(frozen=True)
class PersonRecord:
    person_id: int
    enterprise_id: str
    golden: dict[str, Any]
    replaces: str | None  # the merged enterprise id that was asked for, if any


def read_person(session: Session, cipher: FieldCipher, enterprise_id: str) -> PersonRecord:
    """The golden record of a person; a merged person's id reads its survivor's record."""
    person = session.execute(
        select(PersonRow).where(PersonRow.enterprise_id == enterprise_id)
    ).scalar_one_or_none()
    if person is None:
        raise NotFound("no person has this enterprise id")
    survivor = follow_merges(session, person)
    if survivor.status == "retired":
        raise Gone("this person has no source records left")
    golden = db.read_golden(cipher, survivor)
    golden.setdefault("meta", {"lastUpdated": survivor.updated.isoformat()})
    replaces = enterprise_id if survivor.id != person.id else None
    return PersonRecord(survivor.id, survivor.enterprise_id, golden, replaces)


# -- cross-reference (PIXm) -----------------------------------------------------------------


@dataclass(frozen=True)
class CrossReference:
    person_id: int
    enterprise_id: str
    identifiers: list[tuple[str, str]]  # (system, value), the source identifier excluded
    patient_ids: list[str]  # FHIR Patient ids of the person's source records


def normalise_value(system: str, value: str) -> str:
    """Resident IDs are filed in their normalised 18-character form."""
    if system == RESIDENT_ID_SYSTEM:
        try:
            return parse_id(value).normalized
        except InvalidIdError:
            return value.strip()
    return value.strip()


def known_domain(session: Session, system: str) -> bool:
    """A Patient Identity Domain the hub assigns or has filed identifiers under."""
    if system in _PERSON_DOMAINS:
        return True
    if system.startswith(_FACILITY_PREFIX) and system.endswith("/patient"):
        code = system[len(_FACILITY_PREFIX) : -len("/patient")]
        if code in db.facility_kinds():
            return True
    found = session.execute(
        select(IdentifierRow.id).where(IdentifierRow.system == system).limit(1)
    ).first()
    return found is not None


def cross_reference(
    session: Session, cipher: FieldCipher, system: str, value: str, targets: list[str]
) -> CrossReference:
    """IHE PIXm ITI-83: the person's identifiers in the other domains (``targets`` if given)."""
    if not known_domain(session, system):
        raise PixmError("sourceIdentifier Assigning Authority not found", code="code-invalid")
    if any(not known_domain(session, t) for t in targets):
        raise PixmError("targetSystem not found", status=403, code="code-invalid")
    value = normalise_value(system, value)
    person = _person_holding(session, cipher, system, value)
    rows = session.execute(
        select(IdentifierRow.system, IdentifierRow.value, SourceRow.patient_id)
        .join(SourceRow, SourceRow.id == IdentifierRow.source_row)
        .where(SourceRow.person_id == person.id, IdentifierRow.valid.is_(True))
        .order_by(SourceRow.id, IdentifierRow.id)
    ).all()
    found: list[tuple[str, str]] = [(ENTERPRISE_ID_SYSTEM, person.enterprise_id)]
    patients: list[str] = []
    for row_system, sealed, patient_id in rows:
        plain = cipher.decrypt(sealed)
        if row_system.startswith(_FACILITY_PREFIX) and plain.startswith("Patient/"):
            pass  # no local number: the Patient id stood in for it (returned as targetId)
        elif (row_system, plain) not in found:
            found.append((row_system, plain))
        if patient_id and patient_id not in patients:
            patients.append(patient_id)
    source = (system, value.upper())
    others = [(s, v) for s, v in found if (s, v.upper()) != source]
    if targets:
        others = [(s, v) for s, v in others if s in targets]
    return CrossReference(person.id, person.enterprise_id, others, patients)


def _person_holding(session: Session, cipher: FieldCipher, system: str, value: str) -> PersonRow:
    if system == ENTERPRISE_ID_SYSTEM:
        person = session.execute(
            select(PersonRow).where(PersonRow.enterprise_id == value)
        ).scalar_one_or_none()
        holders = [person] if person is not None else []
    else:
        ids = _holders(session, cipher, system, value)
        holders = list(session.execute(select(PersonRow).where(PersonRow.id.in_(ids))).scalars())
    survivors = {p.id: p for p in (follow_merges(session, h) for h in holders)}
    if not survivors:
        raise PixmError("sourceIdentifier Patient Identifier not found", status=404,
                        code="not-found")  # fmt: skip
    if len(survivors) > 1:
        raise Conflict("sourceIdentifier is held by several persons (pending data stewardship)",
                       code="multiple-matches")  # fmt: skip
    return next(iter(survivors.values()))


def _holders(session: Session, cipher: FieldCipher, system: str, value: str) -> set[int]:
    """Ids of the persons (as filed, merged or not) whose sources carry this valid identifier."""
    index = db.identifier_index(cipher, system, normalise_value(system, value))
    rows = session.execute(
        select(SourceRow.person_id)
        .join(IdentifierRow, IdentifierRow.source_row == SourceRow.id)
        .where(
            IdentifierRow.system == system,
            IdentifierRow.value_index == index,
            IdentifierRow.valid.is_(True),
        )
        .distinct()
    ).scalars()
    return set(rows)


def _active_survivors(session: Session, person_ids: set[int]) -> set[int]:
    rows = session.execute(select(PersonRow).where(PersonRow.id.in_(person_ids))).scalars()
    survivors = (follow_merges(session, p) for p in list(rows))
    return {p.id for p in survivors if p.status == "active"}
