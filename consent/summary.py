"""The per-patient consent summary (``consent_summary``): kept on every Consent write, read by
the search filter so that a broad search finds the patients whose consents can matter to the
caller in one query, instead of testing every row it matches for a consent.

Kept by :func:`keep_summary`, a write hook the store runs in the Consent's own transaction on
every path that writes one (REST, Bundles, HL7 v2, the FHIR inbound adapter, and bulk loads,
which run it even without their other hooks): the Consent's rows are replaced by those of its
new version (none once it is inactive or deleted). One Consent's rows are written only by the
write of that Consent, which the store serialises (the resource row is locked for an update,
unique for a create), so two writes for one patient at once touch disjoint rows and cannot
leave the summary stale.

Periods are kept as data (``period_start``/``period_end``) and compared with the moment of each
search, so a Consent that begins or expires is right without any write. The rules are stored
without their Consent's id (``shape_of``): Consents of the same shape share one text, and the
search decides once per shape, not once per patient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from consent.models import ConsentSummaryRow
from consent.pdp import ConsentRule, ProvisionType
from consent.rules import consent_rules, patient_of
from hub.fhir.write_hooks import WriteKind
from hub.mpi.lookup import same_person_pairs

if TYPE_CHECKING:
    from hub.fhir.store import FhirStore

ANY_ACTOR = "*"
_SETS = ("actors", "purposes", "resource_types", "labels", "data", "actions")


def shape_of(rules: Sequence[ConsentRule]) -> str:
    """The rules as canonical JSON, without the Consent's id and the provisions' paths."""
    items = []
    for rule in rules:
        item: dict[str, Any] = {"type": str(rule.type), "depth": rule.depth}
        for name in _SETS:
            value = getattr(rule, name)
            item[name] = None if value is None else sorted(value)
        item["start"] = rule.start.isoformat() if rule.start else None
        item["end"] = rule.end.isoformat() if rule.end else None
        items.append(item)
    return orjson.dumps(items, option=orjson.OPT_SORT_KEYS).decode()


@lru_cache(maxsize=4096)
def rules_of_shape(shape: str) -> tuple[ConsentRule, ...]:
    """The rules a :func:`shape_of` text stands for (consent id and path left empty)."""
    rules = []
    for item in orjson.loads(shape):
        sets = {n: None if item[n] is None else frozenset(item[n]) for n in _SETS}
        rules.append(
            ConsentRule(
                "",
                "",
                ProvisionType(item["type"]),
                item["depth"],
                start=datetime.fromisoformat(item["start"]) if item["start"] else None,
                end=datetime.fromisoformat(item["end"]) if item["end"] else None,
                **sets,
            )
        )
    return tuple(rules)


def summary_rows(
    consent_id: str, patient_id: str, rules: Sequence[ConsentRule]
) -> list[dict[str, Any]]:
    """The summary rows of one Consent with these rules (none: no rules, an inactive Consent)."""
    if not rules:
        return []
    actors: set[str] = set()
    for rule in rules:
        if rule.actors is None:
            actors = {ANY_ACTOR}
            break
        actors |= rule.actors
    starts = [rule.start for rule in rules]
    ends = [rule.end for rule in rules]
    shape = shape_of(rules)
    return [
        {
            "consent_id": consent_id,
            "actor": actor,
            "patient_id": patient_id,
            "period_start": None if None in starts else min(s for s in starts if s),
            "period_end": None if None in ends else max(e for e in ends if e),
            "rules": shape,
        }
        for actor in sorted(actors)
    ]


def replace_summary(session: Session, consent: dict[str, Any], deleted: bool = False) -> None:
    """Replace the summary rows of ``consent`` by those of this version of it."""
    consent_id = str(consent["id"])
    session.execute(delete(ConsentSummaryRow).where(ConsentSummaryRow.consent_id == consent_id))
    if deleted:
        return
    rows = summary_rows(consent_id, patient_of(consent), consent_rules(consent))
    if rows:
        session.execute(insert(ConsentSummaryRow), rows)


def keep_summary(
    store: FhirStore, kind: WriteKind, resource_type: str, consent: dict[str, Any]
) -> None:
    """Write hook: the summary follows every create, update and delete of a Consent."""
    replace_summary(store.session, consent, deleted=kind is WriteKind.DELETE)


@dataclass(frozen=True)
class ConsentedPatients:
    """The Patient records whose person holds a Consent that can reach the caller now, each
    with (consent id, shape) of those Consents; ``crowd`` when there were too many to list."""

    consents: dict[str, frozenset[tuple[str, str]]]
    crowd: bool = False


def reaching(actor_refs: Sequence[str], moment: datetime) -> Any:
    """SQL: the summary rows of the Consents that may apply to ``actor_refs`` at ``moment``."""
    row = ConsentSummaryRow
    return select(row.patient_id, row.consent_id, row.rules).where(
        row.actor.in_([ANY_ACTOR, *actor_refs]),
        or_(row.period_start.is_(None), row.period_start <= moment),
        or_(row.period_end.is_(None), row.period_end > moment),
    )


def consented_patients(
    session: Session,
    actor_refs: Sequence[str],
    moment: datetime,
    limit: int,
    among: Any = None,
) -> ConsentedPatients:
    """Every Patient record whose person (the record a Consent names and every record the
    patient index links to it) has a Consent that can reach ``actor_refs`` at ``moment``;
    with ``among`` (SQL: patient ids), only Consents written against one of those records."""
    stmt = reaching(actor_refs, moment)
    if among is not None:
        stmt = stmt.where(ConsentSummaryRow.patient_id.in_(among))
    rows = session.execute(stmt.limit(limit + 1)).all()
    if len(rows) > limit:
        return ConsentedPatients({}, crowd=True)
    by_record: dict[str, set[tuple[str, str]]] = {}
    for patient_id, consent_id, shape in rows:
        by_record.setdefault(patient_id, set()).add((consent_id, shape))
    found: dict[str, set[tuple[str, str]]] = {r: set(c) for r, c in by_record.items()}
    # The person's other records: one query over the same rows, not one per record.
    records = stmt.with_only_columns(ConsentSummaryRow.patient_id).limit(limit + 1)
    for record, linked in session.execute(same_person_pairs(records)):
        if record in by_record and linked is not None:
            found.setdefault(linked, set()).update(by_record[record])
    if len(found) > limit:
        return ConsentedPatients({}, crowd=True)
    return ConsentedPatients({p: frozenset(c) for p, c in found.items()})


def reaching_records(actor_refs: Sequence[str], moment: datetime) -> Any:
    """SQL: the records named by the Consents that may apply (for the crowd's condition)."""
    return reaching(actor_refs, moment).with_only_columns(ConsentSummaryRow.patient_id)
