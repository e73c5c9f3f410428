"""The referral Task's state machine: the one table of allowed moves, and who may make them.

::

    requested -> received -> accepted -> in-progress -> completed      (the owner)
    requested | received -> rejected          (the owner, reason required)
    accepted -> rejected                      (the owner hands it back, reason required)
    requested | received | accepted -> cancelled  (the requester, reason required)
    rejected -> requested, to a new owner     (the requester redirects it)
    accepted -> in-progress -> completed      (also the hub itself, from what the owner's
                                               facility sends: arrival, discharge + document)
    requested | received | accepted -> cancelled  (the hub, when the validity lapsed: expired)

The owner may also accept straight from requested. A move that is not in the table is a
conflict (409); a move in the table made by the wrong side is forbidden (403); a missing reason
is invalid (400). ``businessStatus`` carries the sub-state and may change without a move. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from referral.rules import reference_of


class Side(StrEnum):
    OWNER = "owner"  # the facility the referral is addressed to (Task.owner)
    REQUESTER = "requester"  # the facility that made the referral (the Task's origin)
    OPERATOR = "operator"  # the hub's operators: corrections, any side
    SYSTEM = "system"  # the hub closing the loop (referral.loop): only the moves it may make
    HUB = "hub"  # the hub's own identity: only expires a referral whose validity lapsed
    OTHER = "other"


class RefusalKind(StrEnum):
    CONFLICT = "conflict"  # 409: not a move of the table
    FORBIDDEN = "forbidden"  # 403: the wrong side
    INVALID = "invalid"  # 400: a reason is missing, or a fixed element changed


class MoveRefused(Exception):
    def __init__(self, kind: RefusalKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Move:
    source: str
    target: str
    by: Side
    reason_required: bool = False
    redirect: bool = False  # the owner changes with this move (and only with it)
    business_status: str = ""  # the sub-state the move records, when it sets one
    by_system: bool = False  # the hub may make it too, from the owner's facility's messages


MOVES: tuple[Move, ...] = (
    Move("requested", "received", Side.OWNER),
    Move("requested", "accepted", Side.OWNER),
    Move("received", "accepted", Side.OWNER),
    Move("requested", "rejected", Side.OWNER, reason_required=True),
    Move("received", "rejected", Side.OWNER, reason_required=True),
    Move("accepted", "rejected", Side.OWNER, reason_required=True, business_status="handed-back"),
    Move("accepted", "in-progress", Side.OWNER, business_status="arrived", by_system=True),
    Move(
        "in-progress",
        "completed",
        Side.OWNER,
        business_status="feedback-returned",
        by_system=True,
    ),
    Move("requested", "cancelled", Side.REQUESTER, reason_required=True),
    Move("received", "cancelled", Side.REQUESTER, reason_required=True),
    Move("accepted", "cancelled", Side.REQUESTER, reason_required=True),
    Move("rejected", "requested", Side.REQUESTER, redirect=True, business_status="redirected"),
)
MoveTable = dict[tuple[str, str], Move]


def table_of(moves: tuple[Move, ...]) -> MoveTable:
    """The moves by (from, to): a second workflow on the same engine brings its own table."""
    return {(move.source, move.target): move for move in moves}


REFERRAL_TABLE = table_of(MOVES)
EXPIRED = "expired"
# The SLA job's one move (referral.sla): a referral nobody took up within its validity window.
EXPIRIES: tuple[Move, ...] = tuple(
    Move(source, "cancelled", Side.HUB, reason_required=True, business_status=EXPIRED)
    for source in ("requested", "received", "accepted")
)
_EXPIRY_BY_SOURCE = {move.source: move for move in EXPIRIES}
INITIAL = "requested"
# Elements that no move changes: who asked, for whom, about what.
FIXED = ("for", "focus", "basedOn", "requester", "intent", "code")


def find_move(source: str, target: str, table: MoveTable = REFERRAL_TABLE) -> Move | None:
    return table.get((source, target))


def expiry_from(source: str) -> Move | None:
    """The expiry move out of ``source``, or None when a referral in it no longer expires."""
    return _EXPIRY_BY_SOURCE.get(source)


def has_reason(task: dict[str, Any]) -> bool:
    reason = task.get("statusReason")
    return isinstance(reason, dict) and bool(reason.get("text") or reason.get("coding"))


def check_move(
    before: dict[str, Any],
    after: dict[str, Any],
    side: Side,
    table: MoveTable = REFERRAL_TABLE,
) -> Move | None:
    """Raise :class:`MoveRefused` unless ``side`` may turn Task ``before`` into ``after``.

    Returns the move made, or None when the status stays (a sub-state or a note changes)."""
    if side is Side.OTHER:
        raise MoveRefused(RefusalKind.FORBIDDEN, "only the referral's two facilities move it")
    changed = [name for name in FIXED if before.get(name) != after.get(name)]
    if changed:
        raise MoveRefused(
            RefusalKind.INVALID, f"a referral's {', '.join(changed)} never change; make a new one"
        )
    source, target = str(before.get("status")), str(after.get("status"))
    readdressed = reference_of(before.get("owner")) != reference_of(after.get("owner"))
    if source == target:
        if readdressed:
            raise MoveRefused(
                RefusalKind.CONFLICT,
                "the owner changes only when the requester redirects a rejected referral",
            )
        return None
    if side is Side.HUB:
        expiry = expiry_from(source)
        move = expiry if expiry is not None and expiry.target == target else None
    else:
        move = find_move(source, target, table)
    if move is None:
        raise MoveRefused(
            RefusalKind.CONFLICT, f"a referral does not move from {source} to {target}"
        )
    if not _may_make(move, side):
        raise MoveRefused(
            RefusalKind.FORBIDDEN,
            f"only the referral's {move.by} moves it from {source} to {target}",
        )
    if move.reason_required and not has_reason(after):
        raise MoveRefused(
            RefusalKind.INVALID, f"moving a referral to {target} needs a reason (statusReason)"
        )
    if move.redirect and not readdressed:
        raise MoveRefused(RefusalKind.INVALID, "a redirect names a new owner")
    if readdressed and not move.redirect:
        raise MoveRefused(
            RefusalKind.CONFLICT,
            "the owner changes only when the requester redirects a rejected referral",
        )
    return move


def _may_make(move: Move, side: Side) -> bool:
    if side is Side.SYSTEM:
        return move.by_system
    return side is Side.OPERATOR or move.by is side


def check_new(task: dict[str, Any]) -> None:
    """A referral's Task starts requested."""
    if task.get("status") != INITIAL:
        raise MoveRefused(
            RefusalKind.CONFLICT,
            f"a referral's Task starts {INITIAL}, not {task.get('status')}; the owner moves it",
        )
