"""Re-link every source record in batch with the active model (``hub mpi relink``).

The initial load of a region links each record as it arrives, with the model of that moment;
once a model has been trained on what was loaded, ``relink`` decides all records again together
(``hub.mpi.matching.linkage.link_batch``: blocking, the household ceilings, greedy clustering under
the resident-ID veto) and moves the records whose person changes:

- **stewards' decisions stand**: every record of a person that holds a manually linked or
  unlinked record (state ``manual``) stays where it is, and nothing joins such a person;
- **enterprise ids are kept** where most of a person's records stay together: each new cluster
  takes the id of the old person that gives it most records, provided that person's records
  mostly go there; any other cluster gets a new person;
- **review**: the open items of the first pass are answered by the re-link (``superseded``) and
  each record the batch is unsure about (a pair ending in different persons) is queued once;
  items a steward has claimed stay;
- ``--dry-run`` only counts what would change (persons merged, split, new; reviews);
- it is resumable: clusters are applied in batches, each its own transaction, and a second run
  computes the same clusters from where the first stopped, so applied moves are no-ops.

:func:`assign_persons` is the pure part: which person each cluster becomes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.db import session_scope
from hub.mpi import store as db
from hub.mpi.matching.linkage import link_batch
from hub.mpi.models import PersonRow, ReviewRow, SourceRow
from hub.mpi.stewardship.links import add_event, move_sources
from hub.mpi.training.registry import active_model
from hub.security.fields import FieldCipher

RELINK_ACTOR = "hub-relink"


@dataclass
class RelinkSummary:
    sources: int = 0
    clusters: int = 0
    frozen_sources: int = 0  # records of persons a steward decided: left as they are
    moved: int = 0  # records whose person changes
    merged: int = 0  # clusters that gather records of several old persons
    split: int = 0  # old persons whose records go to several clusters
    new_persons: int = 0
    reviews: int = 0  # review items queued (pairs, in a dry run)
    superseded: int = 0  # open items of the first pass answered by the re-link
    applied: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Source:
    id: int
    person_id: int
    frozen: bool


def assign_persons(old: Sequence[int], clusters: Sequence[int]) -> dict[int, int | None]:
    """Cluster -> the old person whose enterprise id it keeps, or None (a new person).

    A cluster keeps the id of the old person giving it most records (ties: the lowest person
    id) when that person's records mostly (strictly more than half) go there; an old person's id
    goes to one cluster at most.
    """
    per_person = Counter(old)
    by_cluster: dict[int, Counter[int]] = defaultdict(Counter)
    for person, cluster in zip(old, clusters, strict=True):
        by_cluster[cluster][person] += 1
    taken: set[int] = set()
    result: dict[int, int | None] = {}
    for cluster in sorted(by_cluster, key=lambda c: -sum(by_cluster[c].values())):
        votes = by_cluster[cluster]
        person, count = min(votes.items(), key=lambda item: (-item[1], item[0]))
        keeps = person not in taken and 2 * count > per_person[person]
        result[cluster] = person if keeps else None
        if keeps:
            taken.add(person)
    return result


def relink(
    cipher: FieldCipher,
    *,
    dry_run: bool = False,
    batch_size: int = 500,
    progress: Callable[[int], None] = lambda n: None,
) -> RelinkSummary:
    """Decide every source again with the active model; apply unless ``dry_run``."""
    with session_scope() as session:
        model = active_model(session)
        rows = session.execute(
            select(SourceRow.id, SourceRow.person_id, SourceRow.state, SourceRow.features)
            .join(PersonRow, PersonRow.id == SourceRow.person_id)
            .where(PersonRow.status == "active")
            .order_by(SourceRow.id)
        ).all()
        frozen_persons = {person for _, person, state, _ in rows if state == "manual"}
        sources = [_Source(i, p, p in frozen_persons) for i, p, _, _ in rows]
        features = [db.open_features(cipher, sealed) for _, _, _, sealed in rows]
    fixed = [s.person_id if s.frozen else None for s in sources]
    result = link_batch(features, model, fixed=fixed)
    clusters = result.clusters
    summary = RelinkSummary(sources=len(sources), clusters=len(set(clusters)))
    summary.frozen_sources = sum(s.frozen for s in sources)
    keeps = assign_persons([s.person_id for s in sources], clusters)
    members: dict[int, list[int]] = defaultdict(list)
    for index, cluster in enumerate(clusters):
        members[cluster].append(index)
    old_clusters: dict[int, set[int]] = defaultdict(set)
    for source, cluster in zip(sources, clusters, strict=True):
        old_clusters[source.person_id].add(cluster)
    summary.split = sum(len(c) > 1 for c in old_clusters.values())
    summary.merged = sum(len({sources[i].person_id for i in m}) > 1 for m in members.values())
    summary.new_persons = sum(
        keeps[c] is None and not all(sources[i].frozen for i in m) for c, m in members.items()
    )
    summary.moved = sum(keeps[clusters[i]] != sources[i].person_id for i in range(len(sources)))
    wanted_reviews = [(i, j, p) for i, j, p in result.reviews if clusters[i] != clusters[j]]
    summary.reviews = len(wanted_reviews)
    if dry_run:
        return summary
    ordered = sorted(members.items())
    for start in range(0, len(ordered), batch_size):
        with session_scope() as session:
            for cluster, indexes in ordered[start : start + batch_size]:
                _apply_cluster(session, cipher, [sources[i] for i in indexes], keeps[cluster])
        progress(sum(len(m) for _, m in ordered[start : start + batch_size]))
    with session_scope() as session:
        summary.reviews, summary.superseded = _queue_reviews(session, sources, wanted_reviews)
    summary.applied = True
    return summary


def _apply_cluster(
    session: Session, cipher: FieldCipher, members: list[_Source], keep: int | None
) -> None:
    if all(m.frozen for m in members):
        return
    rows = (
        session.execute(select(SourceRow).where(SourceRow.id.in_([m.id for m in members])))
        .scalars()
        .all()
    )
    target = session.get(PersonRow, keep) if keep is not None else None
    if target is None or target.status != "active":
        if len({r.person_id for r in rows}) == 1 and keep is None and _alone(session, rows):
            return  # already a person of its own
        target = db.new_person(session, datetime.now(UTC))
    moving = [r for r in rows if r.person_id != target.id]
    if not moving:
        return
    before = {r.person_id for r in moving}
    now = datetime.now(UTC)
    move_sources(session, moving, target, action="relink", at=now, actor=RELINK_ACTOR,
                 reason="batch re-link with the active model", state="auto")  # fmt: skip
    for person_id in sorted(before | {target.id}):
        person = session.get(PersonRow, person_id)
        if person is not None:
            db.refresh_golden(session, cipher, person)


def _alone(session: Session, rows: Sequence[SourceRow]) -> bool:
    """Whether ``rows`` are every record of their (one) person."""
    person = rows[0].person_id
    count = session.execute(
        select(func.count()).select_from(SourceRow).where(SourceRow.person_id == person)
    ).scalar_one()
    return int(count) == len(rows)


def _queue_reviews(
    session: Session, sources: list[_Source], pairs: list[tuple[int, int, float]]
) -> tuple[int, int]:
    """Replace the open review queue of the re-linked records with the batch's own: items the
    first pass queued are answered by the re-link (``superseded``), and each record the batch
    is unsure about gets one item. Items a steward has claimed are left alone. Returns
    (queued, superseded)."""
    now = datetime.now(UTC)
    decided = {s.id for s in sources if not s.frozen}
    superseded = 0
    for review in session.execute(select(ReviewRow).where(ReviewRow.status == "open")).scalars():
        if review.source_row in decided:
            review.status, review.resolution, review.resolved_at = "resolved", "superseded", now
            superseded += 1
    claimed = set(
        session.execute(select(ReviewRow.source_row).where(ReviewRow.status == "claimed")).scalars()
    )
    queued_for: set[int] = set()
    for i, j, probability in pairs:
        source_id = sources[i].id
        if source_id in queued_for or source_id in claimed or sources[i].frozen:
            continue
        other = session.get(SourceRow, sources[j].id)
        if other is None:
            continue
        session.add(ReviewRow(source_row=source_id, candidate_person=other.person_id,
                              probability=probability, status="open", created=now))  # fmt: skip
        queued_for.add(source_id)
    if queued_for or superseded:
        add_event(session, action="review", at=now, actor=RELINK_ACTOR,
                  reason=f"batch re-link: {len(queued_for)} review item(s) queued, "
                         f"{superseded} answered")  # fmt: skip
    return len(queued_for), superseded
