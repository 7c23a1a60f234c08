"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import select
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import Session, sessionmaker

from gateway.settings import DATABASE_MAX_OVERFLOW, DATABASE_POOL_SIZE

#: How long a SQLite writer waits for the write lock before "database is locked".
BUSY_TIMEOUT_S = 30
_DML = ("INSERT", "UPDATE", "DELETE", "REPLAC")  # what makes pysqlite open a write transaction
_BEGIN_WRITE = ("BEGIN IMMEDIATE", "BEGIN EXCLUSIVE")
_TURN = "gateway_writer_turn"
_turns: dict[str, threading.Lock] = {}
_turns_guard = threading.Lock()


def _take_writer_turns(engine: Engine, database: str) -> None:
    """Writers in this process queue on a lock instead of polling SQLite's write lock.

    Why: SQLite has one writer at a time, and a writer that finds the lock taken does not
    queue - its busy handler sleeps and retries (1, 2, 5 ... up to 100 ms a try), so under
    load an unlucky writer (an API request, while the delivery worker, the retours and
    other requests write in the same process) can lose one retry after another: that is
    the long tail of the API latency on SQLite (issue 7). Here a connection takes this
    process's turn for the database just before its first write statement (the moment
    pysqlite begins the write transaction) and gives it back at commit or rollback;
    whoever waits is woken as soon as the turn is free. Reads never wait (WAL), other
    processes still meet SQLite's own lock and busy timeout, and a writer that cannot get
    the turn within the busy timeout goes ahead and lets SQLite decide, as before.
    """
    with _turns_guard:
        turn = _turns.setdefault(database, threading.Lock())

    def give_back(info: dict[Any, Any]) -> None:
        if info.pop(_TURN, False):
            turn.release()

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        head = statement.lstrip()[:15].upper()
        # BEGIN IMMEDIATE/EXCLUSIVE (bulk intake) take SQLite's write lock at once: taking it
        # without the turn would leave a turn holder waiting on SQLite and us on the turn.
        wants_turn = not conn.info.get(_TURN) and (head[:6] in _DML or head in _BEGIN_WRITE)
        if wants_turn and turn.acquire(timeout=BUSY_TIMEOUT_S):
            conn.info[_TURN] = True

    @event.listens_for(engine, "after_cursor_execute")
    def _after_write(conn: Connection, *_args: Any) -> None:
        if conn.info.get(_TURN) and not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            give_back(conn.info)  # the statement ran outside a transaction (autocommit)

    def at_end(conn: Connection) -> None:
        give_back(conn.info)

    # The connection went back, away or was reset without a commit or rollback event.
    def at_checkin(_dbapi: Any, record: Any) -> None:
        if record is not None:
            give_back(record.info)

    def at_reset(_dbapi: Any, record: Any, _reset_state: Any) -> None:
        at_checkin(_dbapi, record)

    def at_invalidate(_dbapi: Any, record: Any, _exception: Any) -> None:
        at_checkin(_dbapi, record)

    event.listen(engine, "commit", at_end)
    event.listen(engine, "rollback", at_end)
    event.listen(engine.pool, "checkin", at_checkin)
    event.listen(engine.pool, "close", at_checkin)
    event.listen(engine.pool, "reset", at_reset)
    event.listen(engine.pool, "invalidate", at_invalidate)


def _ping_by_socket(dialect: Dialect) -> None:
    """Make the pool's pre-ping look at the idle connection's socket before a round trip.

    Why: ``pool_pre_ping`` sends ``SELECT 1`` (and switches autocommit on and off) at every
    checkout - a round trip and about 0.3 ms CPU per request on the reference machine, to
    learn almost always that the connection is fine. A server that restarted or ended the
    connection (``pg_terminate_backend``, ``pg_ctl stop -m immediate``, a crash) has told
    us so on the socket: a message and/or end-of-file make an idle connection's socket
    readable. So: an unreadable socket of a healthy libpq connection passes at once; a
    readable one (the server said something: usually goodbye, possibly a harmless notice)
    gets the real ``SELECT 1``, whose failure SQLAlchemy handles exactly as before
    (invalidate the pool, reconnect). What this cannot see, the round trip would not have
    fixed either: a peer gone without a FIN makes ``SELECT 1`` hang just as the query would.
    """
    from psycopg.pq import ConnStatus  # here: only a psycopg engine gets this ping

    real_ping: Callable[[Any], bool] = dialect.do_ping

    def do_ping(dbapi_connection: Any) -> bool:
        pgconn = getattr(dbapi_connection, "pgconn", None)
        if pgconn is None:
            return real_ping(dbapi_connection)
        if dbapi_connection.closed or dbapi_connection.broken or pgconn.status != ConnStatus.OK:
            return False
        try:
            poller = select.poll()
            poller.register(pgconn.socket, select.POLLIN)
            readable = bool(poller.poll(0))
        except (OSError, ValueError):
            return False
        return real_ping(dbapi_connection) if readable else True

    dialect.do_ping = do_ping  # type: ignore[method-assign]


def create_db_engine(
    url: str, *, pool_size: int = DATABASE_POOL_SIZE, max_overflow: int = DATABASE_MAX_OVERFLOW
) -> Engine:
    """An engine tuned per backend.

    SQLite: WAL (readers never block the writer), a busy timeout instead of instant
    "database is locked" errors, foreign keys on. The data folder is created.
    PostgreSQL: psycopg 3, pre-ping so a restarted server costs one retry, not an error
    (a look at the socket first, a round trip only when it shows something: :func:`_ping_by_socket`).
    The pool is sized to the process's threads (``Settings.database_pool_size``), so
    connections are reused rather than opened per transaction.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S})
        if parsed.database and parsed.database != ":memory:":
            _take_writer_turns(engine, str(Path(parsed.database).resolve()))

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
            cursor.close()

        return engine
    if parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
    engine = create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow)
    if engine.dialect.driver == "psycopg":
        _ping_by_socket(engine.dialect)
    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed together, or not at all."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def write_transaction(factory: sessionmaker[Session], engine: Engine) -> Iterator[Session]:
    """:func:`transaction` that holds the write lock from its start, on SQLite too.

    SQLite ignores ``FOR UPDATE``, and pysqlite begins a transaction lazily (at the first
    write, after the reads): a writer committing in between makes the later write fail
    with "database is locked", or lets two transactions both act on what they read.
    ``BEGIN IMMEDIATE`` queues us behind other writers instead (and takes this process's
    writer turn). On PostgreSQL it is a plain transaction: there row locks do the work.
    """
    with transaction(factory) as session:
        if is_sqlite(engine):
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        yield session
