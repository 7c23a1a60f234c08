"""SQLite writers in one process take turns on a lock (gateway.store.database), and always give it back.

A turn that were never given back would stall every later writer for the busy timeout:
each way a write transaction can end (commit, rollback, an error, a session closed without
either, a statement outside a transaction) is checked to free the turn at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.store import database
from gateway.store.database import create_db_engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"))
    yield engine
    engine.dispose()


def _turn(tmp_path: Path) -> threading.Lock:
    return database._turns[str((tmp_path / "turns.db").resolve())]


def _write_from_another_thread(engine: Engine) -> float:
    """Seconds another thread needed for a write of its own (it must not wait for a lost turn)."""
    took: list[float] = []

    def write() -> None:
        started = time.monotonic()
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t (v) VALUES ('other')"))
        took.append(time.monotonic() - started)

    thread = threading.Thread(target=write)
    thread.start()
    thread.join(timeout=10)
    assert took, "the other writer is still waiting"
    return took[0]


def test_concurrent_writers_all_commit(engine: Engine, tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                with engine.begin() as connection:
                    connection.execute(text("SELECT count(*) FROM t")).scalar()
                    connection.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": f"{n}-{i}"})
                    time.sleep(0.001)  # hold the write lock a moment, as real work does
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 120
    assert not _turn(tmp_path).locked()


def test_the_turn_is_held_from_the_first_write_to_the_commit(engine: Engine, tmp_path: Path) -> None:
    turn = _turn(tmp_path)
    with engine.begin() as connection:
        connection.execute(text("SELECT count(*) FROM t"))
        assert not turn.locked()  # reads take no turn
        connection.execute(text("INSERT INTO t (v) VALUES ('a')"))
        assert turn.locked()
    assert not turn.locked()


def test_the_turn_is_given_back_on_rollback_and_errors(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), engine.begin() as connection:
        connection.execute(text("INSERT INTO t (v) VALUES ('rolled back')"))
        raise RuntimeError("the work failed")
    assert not _turn(tmp_path).locked()
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("INSERT INTO t (v) VALUES ('first')"))
        connection.execute(text("INSERT INTO t (v) VALUES (NULL)"))
    assert not _turn(tmp_path).locked()
    assert _write_from_another_thread(engine) < 5


def test_the_turn_is_given_back_when_a_session_closes_without_commit(engine: Engine, tmp_path: Path) -> None:
    session = Session(engine)
    session.execute(text("INSERT INTO t (v) VALUES ('abandoned')"))
    assert _turn(tmp_path).locked()
    session.close()  # the pool resets the connection: rolled back, turn given back
    assert not _turn(tmp_path).locked()
    assert _write_from_another_thread(engine) < 5
    with engine.connect() as connection:
        assert connection.execute(text("SELECT v FROM t")).scalars().all() == ["other"]


def test_an_autocommit_write_gives_the_turn_back_at_once(engine: Engine, tmp_path: Path) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("INSERT INTO t (v) VALUES ('autocommitted')"))
        assert not _turn(tmp_path).locked()
        assert _write_from_another_thread(engine) < 5


def test_begin_immediate_takes_the_turn_with_the_write_lock(engine: Engine, tmp_path: Path) -> None:
    """Bulk intake starts with BEGIN IMMEDIATE (SQLite's write lock at once): without the turn
    too, a turn holder would wait on SQLite while we wait on the turn (30 s each way)."""
    with Session(engine) as session:
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        assert _turn(tmp_path).locked()
        session.execute(text("INSERT INTO t (v) VALUES ('bulk')"))
        session.commit()
    assert not _turn(tmp_path).locked()
    assert _write_from_another_thread(engine) < 1
