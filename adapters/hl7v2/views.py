"""HTTP API of the HL7 v2 message log: search, show (with ACK and produced resources), replay."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from adapters.hl7v2 import messages
from adapters.hl7v2.inbox_queue import get_dispatcher
from adapters.hl7v2.models import MessageStatus
from hub.auth.actor import Actor
from hub.deps import MAX_OFFSET, MAX_ROW_ID, NO_NUL, RowId, current_actor, unit_of_work

router = APIRouter(prefix="/messages", tags=["HL7 v2 message log"])
CurrentActor = Annotated[Actor, Depends(current_actor)]


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: Annotated[
        list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]], Field(min_length=1, max_length=1000)
    ]
    reason: Annotated[str, Field(min_length=1, max_length=512, pattern=NO_NUL)]


class ReplayResult(BaseModel):
    replayed: list[int]


@router.get("", summary="Search the message log (newest first)")
def search_messages(
    actor: CurrentActor,
    facility: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    type: Annotated[
        str | None, Query(max_length=32, pattern=NO_NUL, description="ADT or ADT^A01")
    ] = None,
    status: MessageStatus | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    control_id: Annotated[str | None, Query(max_length=199, pattern=NO_NUL)] = None,
    limit: Annotated[int, Query(ge=1, le=messages.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> messages.MessagePage:
    with unit_of_work(actor) as store:
        return messages.search_messages(
            store.session, actor, facility=facility, message_type=type, status=status,
            since=since, until=until, control_id=control_id, limit=limit, offset=offset,
        )  # fmt: skip


@router.get("/{message_id}", summary="One message: raw content, ACK, produced resources")
def show_message(message_id: RowId, actor: CurrentActor) -> messages.MessageDetail:
    with unit_of_work(actor) as store:
        return messages.show_message(store.session, store.cipher, actor, message_id)


@router.post("/replay", summary="Replay dead letters (after the cause was fixed)")
def replay_messages(body: ReplayRequest, actor: CurrentActor) -> ReplayResult:
    with unit_of_work(actor) as store:
        replayed, facilities = messages.replay_messages(
            store.session, actor, body.ids, reason=body.reason
        )
    get_dispatcher().notify(facilities)  # after the commit; the sweeper covers a lost one
    return ReplayResult(replayed=replayed)
