"""The decisions of a registration batch (pure: no I/O).

Each record is scored against its stored candidates and against the records of the batch decided
before it, best source per candidate person, then decided as ``register_source`` decides (the
best person's probability against the model's thresholds). References to rows that do not exist
yet are negative: person ``-k`` is the batch's k-th new person, source ``-(p + 1)`` the batch's
record at position ``p``; :mod:`hub.mpi.registration.batch_writes` turns them into ids.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hub.mpi.matching.compare import compare, tf_values
from hub.mpi.matching.features import MatchFeatures
from hub.mpi.matching.household import best_first, ceiling, decide, hanzi_names
from hub.mpi.matching.model import Decision, MatchModel
from hub.mpi.registration.id_veto import conflicts

OUTCOME_CANDIDATES = 5


@dataclass(frozen=True)
class Registration:
    """One facility's record to register (the arguments of ``register_source``);
    :mod:`hub.mpi.registration.batch` re-exports it."""

    facility: str
    source_id: str
    patient_id: str | None
    features: MatchFeatures
    actor: str


@dataclass(frozen=True)
class StoredSource:
    person_id: int
    enterprise_id: str
    features: MatchFeatures


@dataclass(frozen=True)
class Pending:
    features: MatchFeatures
    query: list[str]  # hashed query keys (looked up)
    record: list[str]  # hashed record keys (stored under)
    # blind index of its valid resident ID (hub.mpi.registration.id_veto)
    resident_key: str | None = None


@dataclass(frozen=True)
class Option:
    person: int  # a person id, or -k: the batch's k-th new person
    enterprise_id: str | None  # None: a person of this batch, not written yet
    probability: float
    weight: float
    source: int  # a source id, or -(p + 1): the batch's record at position p
    ceiling: Decision = Decision.LINK  # the most this option may be decided (household rules)


@dataclass(frozen=True)
class Choice:
    decision: Decision
    person: int  # the person the record goes to (same references as Option.person)
    top: Option | None
    options: list[Option]  # the best few, best first


def decide_batch(
    model: MatchModel,
    work: list[Pending],
    stored: list[list[int]],
    opened: dict[int, StoredSource],
    held: dict[int, frozenset[str]] | None = None,
) -> list[Choice]:
    """Decide ``work`` in order; ``stored[p]`` are the stored source ids of record ``p``,
    ``held`` the valid resident-ID keys of the stored persons (the hard rule per person)."""
    keys_of: dict[int, frozenset[str]] = dict(held or {})  # grows with the batch's persons
    index: dict[str, list[int]] = {}  # record key -> positions decided so far
    persons: list[int] = []
    enterprise_ids: dict[int, str] = {}
    choices: list[Choice] = []
    new_persons = 0
    for position, record in enumerate(work):
        features = record.features
        tf = tf_values(features)
        best: dict[int, Option] = {}

        for source_id in stored[position]:
            found = opened.get(source_id)
            if found is not None:
                enterprise_ids[found.person_id] = found.enterprise_id
                found_option = Option(found.person_id, found.enterprise_id, 0.0, 0.0, source_id)
                _consider(best, model, features, tf, found.features, found_option)
        earlier = {j for key in record.query for j in index.get(key, ())}
        for j in sorted(earlier):
            earlier_option = Option(persons[j], enterprise_ids.get(persons[j]), 0.0, 0.0, -(j + 1))
            _consider(best, model, features, tf, work[j].features, earlier_option)
        if record.resident_key is not None:
            for person_id, option in best.items():
                if conflicts(keys_of.get(person_id, frozenset()), record.resident_key):
                    best[person_id] = replace(option, ceiling=Decision.NEW)
        options = sorted(best.values(), key=lambda o: best_first(model, o), reverse=True)
        top = options[0] if options else None
        decision = decide(model, top)
        if decision is Decision.LINK and top is not None:
            person = top.person
        else:
            new_persons += 1
            person = -new_persons
        persons.append(person)
        if record.resident_key is not None:
            keys_of[person] = keys_of.get(person, frozenset()) | {record.resident_key}
        for key in record.record:
            index.setdefault(key, []).append(position)
        choices.append(Choice(decision, person, top, options[:OUTCOME_CANDIDATES]))
    return choices


def _consider(
    best: dict[int, Option],
    model: MatchModel,
    features: MatchFeatures,
    tf: tuple[str | None, ...],
    other: MatchFeatures,
    option: Option,
) -> None:
    """Score ``other`` for ``option`` (weight and probability still 0); keep the person's best:
    the highest decision its ceiling allows, then the highest weight."""
    levels = compare(features, other)
    weight = model.match_weight(levels, tf)
    probability = model.match_probability(weight)
    cap = ceiling(levels, hanzi=hanzi_names(features, other))
    scored = replace(option, probability=probability, weight=weight, ceiling=cap)
    current = best.get(option.person)
    if current is None or best_first(model, scored) > best_first(model, current):
        best[option.person] = scored
