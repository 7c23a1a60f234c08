"""Row ids for many new rows at once, taken before the INSERT (PostgreSQL).

Why: SQLAlchemy inserts many new rows whose ids it must learn as one
``INSERT ... VALUES (...), (...) RETURNING id`` statement with a placeholder per value;
psycopg rewrites such a statement in Python, placeholder by placeholder, without its
statement cache (it is too long) - a quarter of bulk intake's CPU. Rows that already
carry their id are inserted with ``executemany`` instead: one short, cached statement,
the rows sent in one pipeline. So bulk intake takes the ids from the table's sequence
first, in one query. The ids are the sequence's, exactly as the INSERT would have
taken them. On SQLite (in-process, parameters bound in C) the INSERTs are cheap as
they are, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

#: Fewer rows than this: a RETURNING insert is short (cached by psycopg) and saves a round trip.
MIN_ROWS = 8

_NEXTVALS = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)")


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
    ids = sorted(session.scalars(_NEXTVALS, {"table": table.name, "count": len(rows)}))
    for row, id_ in zip(rows, ids, strict=True):
        row.id = id_
