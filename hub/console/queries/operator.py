"""The operator's read models: each facility's HL7 v2 connection, the message log and its dead
letters, break-glass accesses awaiting review, how far the audit chain is linked and verified,
and the field keys. Each calls the service the API and the CLI use (``adapters.hl7v2``,
``hub.audit``, ``hub.security``) as the operator's actor, and each look is audited like the
API's; replay and review change state only through those services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.hl7v2 import messages
from adapters.hl7v2.connections import Connection, facility_connections
from adapters.hl7v2.models import MessageStatus
from hub.audit.chain import ChainProblem
from hub.audit.linking import ChainExtent, chain_extent
from hub.audit.models import AuditCheckpoint
from hub.audit.review import BreakGlassAccess, list_break_glass, review_break_glass
from hub.audit.service import AuditEntry, record_access
from hub.audit.verification import verify_chain
from hub.auth.actor import Actor
from hub.region.facilities import load_facilities
from hub.security.fields import FieldCipher
from hub.security.rotation import BlindIndexState, blind_index_state, sealed_value_counts

CONNECTION_WINDOW = timedelta(hours=24)
PAGE = 50
MAX_PROBLEMS = 20  # a broken chain's first problems shown


@cache
def facility_names() -> dict[str, str]:
    """The region registry's facility names by code (the packaged file: read once)."""
    return {f.code: f.name for f in load_facilities()}


@dataclass(frozen=True)
class Overview:
    connections: list[Connection]
    names: dict[str, str]  # facility code -> name, for the facilities the registry holds
    dead_letters: int
    unreviewed_break_glass: int
    chain: ChainExtent


def overview(session: Session, actor: Actor, now: datetime | None = None) -> Overview:
    since = (now or datetime.now(UTC)) - CONNECTION_WINDOW
    connections = facility_connections(session, actor, since=since)
    unreviewed, _ = break_glass(session, actor, count=1)
    return Overview(
        connections,
        facility_names(),
        messages.status_counts(session).get(MessageStatus.DEAD.value, 0),
        unreviewed,
        chain_extent(session),
    )


def message_log(
    session: Session,
    actor: Actor,
    *,
    status: MessageStatus | None,
    facility: str | None,
    page: int,
) -> messages.MessagePage:
    return messages.search_messages(
        session, actor, status=status, facility=facility or None, limit=PAGE, offset=page * PAGE
    )


def break_glass(
    session: Session, actor: Actor, *, count: int = PAGE, offset: int = 0
) -> tuple[int, list[BreakGlassAccess]]:
    """(total, page) of the break-glass accesses no one has reviewed yet, newest first."""
    total, page = list_break_glass(
        db_session=session, unreviewed_only=True, offset=offset, count=count
    )
    record_access(
        session,
        AuditEntry(actor, "search-type", "AuditEvent", [f"AuditEvent/{a.seq}" for a in page]),
    )
    return total, page


def review(session: Session, actor: Actor, seq: int, note: str) -> None:
    review_break_glass(db_session=session, seq=seq, reviewer=actor, note=note)
    record_access(session, AuditEntry(actor, "operation", "AuditEvent", [f"AuditEvent/{seq}"]))


@dataclass(frozen=True)
class ChainStatus:
    extent: ChainExtent
    last_checkpoint: int | None  # the record number of the newest signed checkpoint
    last_checkpoint_at: datetime | None
    problems: list[ChainProblem] | None  # None: not verified on this request


def chain_status(session: Session, actor: Actor, *, verify: bool = False) -> ChainStatus:
    """How far the chain is linked and checkpointed; with ``verify``, every hash recomputed
    (``hub audit verify``'s service: its first problems, or none)."""
    problems = None
    if verify:
        problems = []
        for problem in verify_chain(session):
            problems.append(problem)
            if len(problems) >= MAX_PROBLEMS:
                break
    newest = session.execute(
        select(AuditCheckpoint.seq, AuditCheckpoint.created)
        .order_by(AuditCheckpoint.seq.desc())
        .limit(1)
    ).first()
    record_access(session, AuditEntry(actor, "operation" if verify else "read", "AuditEvent"))
    return ChainStatus(
        chain_extent(session),
        newest[0] if newest else None,
        newest[1] if newest else None,
        problems,
    )


@dataclass(frozen=True)
class KeyLine:
    key_id: str
    algorithm: str
    active: bool


@dataclass(frozen=True)
class KeyStatus:
    keys: list[KeyLine]
    blind_algorithm: str
    blind_index: BlindIndexState
    # column -> key id -> stored values; None unless counted (every sealed value is read)
    counts: dict[str, dict[str, int]] | None


def key_status(session: Session, actor: Actor, cipher: FieldCipher, *, count: bool) -> KeyStatus:
    engine = session.get_bind().engine
    keys = [
        KeyLine(kid, str(cipher.algorithm_of(kid)), kid == cipher.active_key_id)
        for kid in sorted(cipher.keys)
    ]
    counted = None
    if count:
        counted = {col: dict(by_key) for col, by_key in sealed_value_counts(engine).items()}
    record_access(session, AuditEntry(actor, "read", "Key"))
    return KeyStatus(keys, str(cipher.blind_algorithm), blind_index_state(engine, cipher), counted)
