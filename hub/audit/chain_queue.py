"""Waking the chainer: after a commit that wrote audit records, and from the sweeper.

The chain is one queue with one key: whichever wake-up comes, the chainer links everything
linkable (:func:`hub.audit.linking.link_all`). A Celery task when a broker is configured, else a
thread in this process (``hub demo``, tests); either way a lost wake-up only delays linking,
because the sweeper (beat task, or the thread's timer) finds records waiting. The Celery tasks
are :mod:`hub.audit.tasks`.
"""

from __future__ import annotations

import logging

from sqlalchemy import event
from sqlalchemy.orm import Session

from hub.audit.linking import LinkResult, link_all, records_waiting
from hub.audit.service import CHAIN_WAITING
from hub.db import session_scope, uses_process_engine, writer_turn
from hub.work_queues import Dispatcher, WorkQueue, install_dispatcher, shared_dispatcher

log = logging.getLogger("hub.audit.chain_queue")
LINK_CHAIN = "hub.audit.link_chain"  # the stable name publishers send
CHAIN_KEY = "chain"


def link_now(_key: str = CHAIN_KEY) -> LinkResult:
    """Link every committed record that can be linked (one transaction per batch)."""
    with writer_turn():  # SQLite: take turns with this process's other writers
        return link_all(session_scope)


def chain_due(session: Session) -> list[str]:
    return [CHAIN_KEY] if records_waiting(session) else []


# Linking lags commits by up to the linger; under load each round links many requests' records.
AUDIT_CHAIN = WorkQueue("audit-chain", LINK_CHAIN, link_now, chain_due, linger=0.05)


def get_dispatcher() -> Dispatcher:
    return shared_dispatcher(AUDIT_CHAIN)


def set_dispatcher(dispatcher: Dispatcher | None) -> Dispatcher | None:
    return install_dispatcher(AUDIT_CHAIN, dispatcher)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction() or not session.info.pop(CHAIN_WAITING, False):
        return
    if not uses_process_engine(session):  # a test's own database: its test links it
        return
    try:
        get_dispatcher().notify([CHAIN_KEY])
    except Exception:  # the records are committed; the sweeper will find them
        log.warning("could not wake the audit chainer; records wait for the sweeper")


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(CHAIN_WAITING, None)
