"""Row ids for new rows known before (or right after) their INSERT, in one statement.

Why: SQLAlchemy inserts many new rows whose ids it must learn as one
``INSERT ... VALUES (...), (...) RETURNING id`` statement with a placeholder per value;
psycopg rewrites such a statement in Python, placeholder by placeholder, without its
statement cache (it is too long) - a quarter of bulk intake's CPU. Rows that already
carry their id are inserted with ``executemany`` instead: one short, cached statement,
the rows sent in one pipeline. And a message must know its id before it is inserted
(the id is its payload's BerichtIdentificatie), or it is inserted and then updated.
So intake takes the ids first. The ids are exactly the ones the INSERTs would have
taken: on PostgreSQL the tables' sequences are advanced (:func:`assign_ids`,
:func:`insert_and_reserve`); on SQLite a new row gets one more than the table's largest
id, which is known for certain once this transaction holds the write lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    Table,
    bindparam,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

#: Fewer rows than this: a RETURNING insert is short (cached by psycopg) and saves a round trip.
MIN_ROWS = 8


def assign_ids(session: Session, rows: Sequence[Any]) -> None:
    """Give new rows of one table (without an id yet) their ids from its sequence.

    Only on PostgreSQL and for :data:`MIN_ROWS` rows or more; otherwise the INSERT
    assigns them as usual. Does not flush.
    """
    if len(rows) < MIN_ROWS or session.get_bind().dialect.name != "postgresql":
        return
    table = rows[0].__table__
    if any(row.__table__ is not table or row.id is not None for row in rows):
        raise ValueError("assign_ids wants new rows of one table")
    [ids] = _nextvals(session, [(table, len(rows))])
    for row, id_ in zip(rows, ids, strict=True):
        row.id = id_


def insert_and_reserve(
    session: Session, table: Table, rows: list[dict[str, Any]], upcoming: Sequence[tuple[Table, int]]
) -> tuple[list[int], list[list[int]]]:
    """Insert ``rows`` (dicts, without ``id``) into ``table``; their ids, in row order, and
    the ids the next ``count`` rows of each ``upcoming`` table will get, ascending.

    Two statements in all, whatever the tables and counts: on PostgreSQL one query takes
    every id from the sequences, then ``rows`` go in with their ids (``executemany``) - or,
    for one row, a single statement: its ``INSERT ... RETURNING`` takes the others too; on
    SQLite ``rows`` go in first - which takes the write lock, if the transaction did not
    hold it yet - and one query reads the tables' largest ids. The caller must insert
    exactly the reserved rows of each upcoming table, in id order, before anything else
    inserts into it in this transaction (on SQLite the reservation is only a prediction).
    ``rows`` get their ``id`` key set.
    """
    if not rows:
        raise ValueError("insert_and_reserve wants rows to insert")
    if session.get_bind().dialect.name == "postgresql":
        if len(rows) == 1:
            # One row (the single endpoint): its INSERT ... RETURNING takes the other ids too.
            counts = {f"count_{index}": count for index, (_, count) in enumerate(upcoming)}
            statement = _insert_reserving(table, tuple(other.name for other, _ in upcoming))
            inserted = session.connection().execute(statement, {**rows[0], **counts}).one()
            rows[0]["id"] = inserted[0]
            return [inserted[0]], [sorted(ids or ()) for ids in inserted[1:]]
        wanted = [(table, len(rows)), *upcoming]
        taken = _nextvals(session, wanted)
        for row, id_ in zip(rows, taken[0], strict=True):
            row["id"] = id_
        session.connection().execute(_insert(table), rows)
        return taken[0], taken[1:]
    session.connection().execute(_insert(table), rows)
    tables = [table, *(other for other, _ in upcoming)]
    if len({t.name for t in tables}) != len(tables):
        raise ValueError("insert_and_reserve wants distinct tables")
    maxima = session.connection().execute(_maxima(tuple(tables))).one()
    last = int(maxima[0])
    first_ids = list(range(last - len(rows) + 1, last + 1))
    for row, id_ in zip(rows, first_ids, strict=True):
        row["id"] = id_
    reserved = [
        list(range((top or 0) + 1, (top or 0) + 1 + count))
        for top, (_, count) in zip(maxima[1:], upcoming, strict=True)
    ]
    return first_ids, reserved


def _nextvals(session: Session, wanted: Sequence[tuple[Table, int]]) -> list[list[int]]:
    """PostgreSQL: ``count`` new ids from each table's sequence, in one query."""
    taken: list[list[int]] = [[] for _ in wanted]
    used = tuple((index, table.name) for index, (table, count) in enumerate(wanted) if count)
    if used:
        counts = {f"count_{index}": count for index, (_, count) in enumerate(wanted) if count}
        for index, id_ in session.connection().execute(_nextvals_query(used), counts):
            taken[index].append(id_)
    return [sorted(ids) for ids in taken]


@lru_cache(maxsize=64)
def _nextvals_query(used: tuple[tuple[int, str], ...]) -> Executable:
    """The query for these (index, table) pairs, built once (building a statement costs more
    than running a cached one); the counts are parameters ``count_<index>``."""
    return union_all(
        *(
            select(
                literal(index).label("k"),
                func.nextval(func.pg_get_serial_sequence(name, "id")).label("id"),
            ).select_from(func.generate_series(1, bindparam(f"count_{index}", type_=Integer)))
            for index, name in used
        )
    )


@lru_cache(maxsize=64)
def _maxima(tables: tuple[Table, ...]) -> Select[Any]:
    """SQLite: one row with each table's largest id (NULL for an empty table)."""
    return select(*(select(func.max(table.c.id)).scalar_subquery() for table in tables))


@lru_cache(maxsize=64)
def _insert_reserving(table: Table, upcoming: tuple[str, ...]) -> Executable:
    """PostgreSQL: INSERT one row into ``table`` RETURNING its id and, per ``upcoming``
    table, an array of ``count_<index>`` ids taken from that table's sequence."""
    reserved = [
        select(
            func.array_agg(
                func.nextval(func.pg_get_serial_sequence(name, "id")), type_=postgresql.ARRAY(BigInteger)
            )
        )
        .select_from(func.generate_series(1, bindparam(f"count_{index}", type_=Integer)))
        .scalar_subquery()
        for index, name in enumerate(upcoming)
    ]
    return insert(table).returning(table.c.id, *reserved)


@lru_cache(maxsize=64)
def _insert(table: Table) -> Executable:
    return insert(table)
