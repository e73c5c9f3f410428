"""Database engine, ORM base and session scopes; the same code runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, DateTime, Engine, Integer, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import TypeDecorator

from hub.settings import Settings, get_settings

# Autoincrementing 64-bit keys on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes in, UTC-aware datetimes out, on every backend.

    SQLite has no timezone type: values are stored as UTC text, which also sorts correctly.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


def make_engine(settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    url = settings.effective_database_url
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        # LIFO: the connection just handed back is the next one out, still warm (and needing no
        # ping, below); the ones at the bottom sit idle and are pinged when next used.
        kwargs.update(
            pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size, pool_use_lifo=True
        )
        if not settings.db_prepared_statements:  # behind PgBouncer in transaction mode
            kwargs["connect_args"] = {"prepare_threshold": None}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    else:
        event.listen(engine, "checkin", _note_checkin)
        event.listen(engine, "checkout", _pinging_if_idle(engine.dialect))
    return engine


# A connection handed back to the pool less than this long ago was alive a moment ago: it is
# given out again without asking the server (HikariCP's aliveBypassWindowMs, 500 ms). Pinging
# on every checkout (pool_pre_ping) cost one round trip in four of a FHIR read under load.
ALIVE_BYPASS_SECONDS = 0.5


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _pinging_if_idle(dialect: Dialect) -> Callable[[Any, Any, Any], None]:
    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        """Pessimistic disconnect handling for connections that sat in the pool: a dead one
        (the server restarted, a proxy dropped it) is replaced before anyone uses it."""
        checked_in = record.info.get("checked_in")
        if checked_in is not None and time.monotonic() - checked_in < ALIVE_BYPASS_SECONDS:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as error:  # the driver's own error for a closed or broken connection
            raise DisconnectionError("pooled connection is dead") from error
        if not alive:
            raise DisconnectionError("pooled connection is dead")

    return ping_if_idle


def _sqlite_begin_immediate(connection: Any) -> None:
    # Every request may write (audit rows at least). A deferred transaction that reads first and
    # writes later fails at once with SQLITE_BUSY when another writer got in between; taking the
    # write lock at BEGIN makes writers queue (busy timeout) instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own BEGIN is deferred).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; NORMAL sync is durable at commit in WAL mode.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_engine: Engine | None = None
_session_factory: sessionmaker[Session] | None = None


def get_engine() -> Engine:
    global _engine, _session_factory
    if _engine is None:
        _engine = make_engine()
        _session_factory = sessionmaker(bind=_engine, expire_on_commit=False)
    return _engine


def reset_engine() -> None:
    """Drop the cached engine (tests and the CLI switch databases through settings)."""
    global _engine, _session_factory
    if _engine is not None:
        _engine.dispose()
    _engine = None
    _session_factory = None


def uses_process_engine(session: Session) -> bool:
    """Whether ``session`` works on this process's database (not a test's own engine)."""
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    return _engine is not None and engine is _engine


def new_session() -> Session:
    get_engine()
    assert _session_factory is not None
    return _session_factory()


BeforeCommit = Callable[[Session], None]
_BEFORE_COMMIT: list[BeforeCommit] = []


def run_before_commit(hook: BeforeCommit) -> BeforeCommit:
    """Run ``hook`` on every :func:`session_scope` session just before it commits. The audit
    service registers its flush here when it is imported (no entry can be pending before), so
    the database layer needs no import of the audit package that is built on it."""
    if hook not in _BEFORE_COMMIT:
        _BEFORE_COMMIT.append(hook)
    return hook


_WITH_COMMIT = "hub.db.with_commit"  # session.info: statements sent together with COMMIT


def send_with_commit(session: Session, statement: TextClause, params: dict[str, Any]) -> bool:
    """Have ``statement`` (no result wanted) travel with the transaction's COMMIT, in one
    round trip, when :func:`session_scope` commits on PostgreSQL. False on other databases:
    the caller executes it itself."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    session.info.setdefault(_WITH_COMMIT, []).append((statement, params))
    return True


def _commit(session: Session) -> None:
    pending: list[tuple[TextClause, dict[str, Any]]] = session.info.pop(_WITH_COMMIT, [])
    if pending:
        from psycopg import ClientCursor  # PostgreSQL only, as send_with_commit made sure

        session.flush()  # what the ORM still holds goes first, in order
        connection = session.connection()
        driver: Any = connection.connection.driver_connection
        *before, (last, last_params) = pending
        for statement, params in before:
            connection.execute(statement, params)
        # A client-side cursor binds the values itself and sends one simple Query: the last
        # statement and the COMMIT in one message, one round trip (pipeline mode would add a
        # round trip of its own to synchronise when it ends). Through SQLAlchemy, so its
        # events see it and a failure is the same DBAPIError as anywhere else.
        sql = str(last.compile(dialect=connection.dialect))
        driver.cursor_factory, factory = ClientCursor, driver.cursor_factory
        try:
            connection.exec_driver_sql(f"{sql}; COMMIT", last_params)
        finally:
            driver.cursor_factory = factory
    # SQLAlchemy's own commit: its bookkeeping and after-commit events; after the COMMIT above
    # the driver has no transaction left, and sends nothing.
    session.commit()


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One unit of work for workers and the CLI: commit on success, roll back on error.
    ``engine``: another database than the process's (tests of a database of their own)."""
    session = new_session() if engine is None else Session(engine)
    try:
        yield session
        for hook in _BEFORE_COMMIT:  # audit rows ride in the same transaction
            hook(session)
        _commit(session)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class _WriterGate:
    """SQLite has one writer, and its busy handler is not fair: a thread that commits and begins
    again at once can keep another waiting for seconds. Within one process (``hub demo``: the
    MLLP listener beside in-process processing) this gate takes turns, urgent work first, so an
    ACK waits for at most one short processing transaction."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._urgent = 0

    @contextmanager
    def turn(self, *, urgent: bool) -> Iterator[None]:
        with self._cond:
            self._urgent += urgent
            while self._busy or (not urgent and self._urgent):
                self._cond.wait()
            self._urgent -= urgent
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()


_GATE = _WriterGate()


@contextmanager
def writer_turn(*, urgent: bool = False) -> Iterator[None]:
    """A turn at writing, on SQLite (see :class:`_WriterGate`); nothing to wait for elsewhere."""
    if get_engine().dialect.name != "sqlite":
        yield
        return
    with _GATE.turn(urgent=urgent):
        yield
