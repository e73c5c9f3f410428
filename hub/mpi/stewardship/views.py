"""HTTP API of patient-index stewardship (JSON): review queue, links, merges, splits.

Operators and data stewards steward (:mod:`.roles`); auditors may read the queue and a person's
links; everyone else gets 403.
Each view parses its request, calls one service function in one unit of work and renders.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from hub.auth.actor import Actor
from hub.deps import MAX_OFFSET, NO_NUL, RowId, current_actor, unit_of_work
from hub.mpi import stewardship
from hub.mpi.stewardship import (
    LinkResult,
    MergeResult,
    PersonLinks,
    ReviewItem,
    ReviewPage,
    SourcePerson,
)
from hub.mpi.stewardship.roles import require_reader, require_steward

router = APIRouter(prefix="/mpi", tags=["Master patient index"])

Reason = Annotated[str, Field(min_length=1, max_length=512, pattern=NO_NUL)]
Code = Annotated[str, Field(min_length=1, max_length=128, pattern=NO_NUL)]


async def _steward(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
    require_steward(actor)
    return actor


async def _reader(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
    require_reader(actor)
    return actor


Steward = Annotated[Actor, Depends(_steward)]
Reader = Annotated[Actor, Depends(_reader)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResolveRequest(_Body):
    resolution: Literal["match", "no-match"]
    reason: Reason


class SourceRef(_Body):
    facility: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]
    source_id: Code


class LinkRequest(SourceRef):
    enterprise_id: Annotated[str, Field(min_length=1, max_length=32, pattern=NO_NUL)]
    reason: Reason
    # Two different valid resident IDs are two people unless the steward says otherwise.
    override_conflicting_ids: bool = False


class UnlinkRequest(SourceRef):
    reason: Reason


class MergeRequest(_Body):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: Annotated[str, Field(alias="from", min_length=1, max_length=32, pattern=NO_NUL)]
    into: Annotated[str, Field(min_length=1, max_length=32, pattern=NO_NUL)]
    reason: Reason
    override_conflicting_ids: bool = False


class UndoRequest(_Body):
    reason: Reason


class SplitRequest(_Body):
    enterprise_id: Annotated[str, Field(min_length=1, max_length=32, pattern=NO_NUL)]
    sources: Annotated[list[SourceRef], Field(min_length=1, max_length=500)]
    reason: Reason


@router.get("/reviews", summary="List review items (possible matches between the thresholds)")
def list_reviews(
    actor: Reader,
    status: Literal["open", "claimed", "resolved", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=stewardship.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ReviewPage:
    with unit_of_work(actor) as store:
        return stewardship.list_reviews(store.session, actor, limit=limit, offset=offset,
                                        status=None if status == "all" else status)  # fmt: skip


@router.post("/reviews/{review_id}/claim", summary="Claim a review item")
def claim_review(review_id: RowId, actor: Steward) -> ReviewItem:
    with unit_of_work(actor) as store:
        return stewardship.claim_review(store.session, actor, review_id=review_id)


@router.post("/reviews/{review_id}/resolve", summary="Resolve a review item: match or no-match")
def resolve_review(review_id: RowId, body: ResolveRequest, actor: Steward) -> ReviewItem:
    with unit_of_work(actor) as store:
        return stewardship.resolve_review(
            store.session, store.cipher, actor,
            review_id=review_id, resolution=body.resolution, reason=body.reason,
        )  # fmt: skip


@router.get("/links", summary="The person one facility's source record is linked to")
def source_link(
    actor: Reader,
    facility: Annotated[str, Query(min_length=1, max_length=64, pattern=NO_NUL)],
    source_id: Annotated[str, Query(min_length=1, max_length=128, pattern=NO_NUL)],
) -> SourcePerson:
    with unit_of_work(actor) as store:
        return stewardship.source_link(store.session, actor, facility=facility, source_id=source_id)


@router.post("/links", summary="Link a source record to a person by hand")
def link_source(body: LinkRequest, actor: Steward) -> LinkResult:
    override = body.override_conflicting_ids
    with unit_of_work(actor) as store:
        return stewardship.link_source(store.session, store.cipher, actor, facility=body.facility,
                                       source_id=body.source_id, enterprise_id=body.enterprise_id,
                                       reason=body.reason,
                                       override_conflicting_ids=override)  # fmt: skip


@router.delete("/links", summary="Unlink a source record: it becomes a person of its own")
@router.post("/unlink", summary="Unlink a source record (for clients that cannot DELETE a body)")
def unlink_source(body: UnlinkRequest, actor: Steward) -> LinkResult:
    with unit_of_work(actor) as store:
        return stewardship.unlink_source(store.session, store.cipher, actor,
                                         facility=body.facility, source_id=body.source_id,
                                         reason=body.reason)  # fmt: skip


@router.post("/merges", summary="Merge one person into another (reversible)")
def merge_persons(body: MergeRequest, actor: Steward) -> MergeResult:
    override = body.override_conflicting_ids
    with unit_of_work(actor) as store:
        return stewardship.merge_persons(store.session, store.cipher, actor, from_eid=body.from_,
                                         into_eid=body.into, reason=body.reason,
                                         override_conflicting_ids=override)  # fmt: skip


@router.post("/merges/{merge_id}/undo", summary="Undo one merge")
def undo_merge(merge_id: RowId, body: UndoRequest, actor: Steward) -> MergeResult:
    with unit_of_work(actor) as store:
        return stewardship.undo_merge(store.session, store.cipher, actor, event_id=merge_id,
                                      reason=body.reason)  # fmt: skip


@router.post("/splits", summary="Split source records off a person into one new person")
def split_person(body: SplitRequest, actor: Steward) -> LinkResult:
    with unit_of_work(actor) as store:
        return stewardship.split_person(store.session, store.cipher, actor,
                                        enterprise_id=body.enterprise_id,
                                        sources=[(s.facility, s.source_id) for s in body.sources],
                                        reason=body.reason)  # fmt: skip


@router.get("/persons/{enterprise_id}/links", summary="A person's source records and history")
def person_links(
    enterprise_id: Annotated[str, Path(max_length=32, pattern=NO_NUL)], actor: Reader
) -> PersonLinks:
    with unit_of_work(actor) as store:
        return stewardship.person_links(store.session, actor, enterprise_id=enterprise_id)
