"""Deadline lookups by message that no planner statistics can turn into a scan

The worker's result and a retour each find the message's retour deadline by ``kind`` and
``message_id``. Both unique keys began with ``kind``, and nearly every deadline has the
same kind (``retour``). Without statistics - a new table, or a peak the autovacuum has
not analysed yet - PostgreSQL estimates ``kind = $1`` at 0.5 % of the rows, and the
``(kind, inbound_id)`` key, whose entries for message deadlines are all ``(retour, NULL)``
and so deduplicated into a few pages, looked the cheapest way in: each statement then read
every open deadline (``Rows Removed by Filter: 999`` at 1,000 in flight; 0.2-0.3 ms each,
O(deadlines)). Putting the subject first is not enough: PostgreSQL also scans a whole
index for a condition on its second column, and ``(inbound_id, kind)`` would be those
same few pages of ``(NULL, retour)``. So each key is now a unique index on the subject
first, over the rows that have that subject only: ``(message_id, kind) WHERE message_id
IS NOT NULL`` and ``(inbound_id, kind) WHERE inbound_id IS NOT NULL``. Uniqueness is the
same (NULLs never collided), ``message_id = $1`` proves the first one's condition, and
nothing about a message proves the second's, so a lookup by message has one key to use.
The two single-column indexes on ``message_id`` and ``inbound_id`` are the keys' leading
columns (the foreign keys' checks prove the conditions too), so they go: two index
entries fewer per deadline update.

``ix_deadlines_open (met_at, overdue_at, due_at)`` could win the same way: the lookups
state ``met_at IS NULL AND overdue_at IS NULL`` too. A partial index ``WHERE met_at IS NULL
AND overdue_at IS NULL`` would not help: one made while the table was empty counts as
empty until the first ANALYZE, so reading it whole looks free, and the lookups imply its
predicate. Its predicate is now ``coalesce(met_at, overdue_at) IS NULL`` (the same rows,
open: neither met nor reported overdue), which only the overdue scan states, in that
form: PostgreSQL cannot prove it from the lookups' two ``IS NULL`` conditions, so for them
the index does not exist. The scan reads it in ``(due_at, id)`` order.
``ix_deadlines_overdue (due_at, id) WHERE overdue_at IS NOT NULL AND handled_at IS NULL``
serves the operators' list, alerts and gauge of missed deadlines, which read the whole
table before; it has an entry only for a missed deadline.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Open: neither met nor reported overdue (see above for why not two ``IS NULL`` terms).
OPEN = "coalesce(met_at, overdue_at) IS NULL"
OVERDUE = "overdue_at IS NOT NULL AND handled_at IS NULL"


def _partial(name: str, columns: list[str], where: str, *, unique: bool = False) -> None:
    op.create_index(
        name,
        "deadlines",
        columns,
        unique=unique,
        postgresql_where=sa.text(where),
        sqlite_where=sa.text(where),
    )


def upgrade() -> None:
    # On SQLite a table's unique constraints go only by copying it (batch mode; PostgreSQL
    # alters it in place), and a copy would not keep a partial index's condition: the
    # partial indexes are made after it. (One transaction, the table locked: no writer sees
    # it without a key on PostgreSQL.)
    op.drop_index("ix_deadlines_open", table_name="deadlines")
    with op.batch_alter_table("deadlines") as batch_op:
        batch_op.drop_constraint("uq_deadlines_kind_message_id", type_="unique")
        batch_op.drop_constraint("uq_deadlines_kind_inbound_id", type_="unique")
        batch_op.drop_index("ix_deadlines_message_id")
        batch_op.drop_index("ix_deadlines_inbound_id")
    _partial("uq_deadlines_message_id_kind", ["message_id", "kind"], "message_id IS NOT NULL", unique=True)
    _partial("uq_deadlines_inbound_id_kind", ["inbound_id", "kind"], "inbound_id IS NOT NULL", unique=True)
    _partial("ix_deadlines_open", ["due_at", "id"], OPEN)
    _partial("ix_deadlines_overdue", ["due_at", "id"], OVERDUE)


def downgrade() -> None:
    for name in (
        "ix_deadlines_overdue",
        "ix_deadlines_open",
        "uq_deadlines_inbound_id_kind",
        "uq_deadlines_message_id_kind",
    ):
        op.drop_index(name, table_name="deadlines")
    with op.batch_alter_table("deadlines") as batch_op:
        batch_op.create_index("ix_deadlines_inbound_id", ["inbound_id"])
        batch_op.create_index("ix_deadlines_message_id", ["message_id"])
        batch_op.create_unique_constraint("uq_deadlines_kind_inbound_id", ["kind", "inbound_id"])
        batch_op.create_unique_constraint("uq_deadlines_kind_message_id", ["kind", "message_id"])
    op.create_index("ix_deadlines_open", "deadlines", ["met_at", "overdue_at", "due_at"])
