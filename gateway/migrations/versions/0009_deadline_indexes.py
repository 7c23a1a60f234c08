"""Deadline lookups by message that no planner statistics can turn into a scan

The worker's result and a retour each find the message's retour deadline by ``kind`` and
``message_id``. Both unique keys began with ``kind``, and nearly every deadline has the
same kind (``retour``). Without statistics - a new table, or a peak the autovacuum has
not analysed yet - PostgreSQL estimates ``kind = $1`` at 0.5 % of the rows, and the
``(kind, inbound_id)`` key, whose entries for message deadlines are all ``(retour, NULL)``
and so deduplicated into a few pages, looked the cheapest way in: each statement then read
every open deadline (``Rows Removed by Filter: 999`` at 1,000 in flight; 0.2-0.3 ms each,
O(deadlines)). With the subject first - ``(message_id, kind)``, ``(inbound_id, kind)`` -
an index that does not start with the subject has nothing to offer a lookup by subject.
The two single-column indexes on ``message_id`` and ``inbound_id`` are the same keys'
leading columns, so they go (two index entries fewer per deadline update).

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


def _partial(name: str, columns: list[str], where: str) -> None:
    op.create_index(name, "deadlines", columns, postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def upgrade() -> None:
    op.drop_index("ix_deadlines_open", table_name="deadlines")
    # On SQLite a table's unique keys change only by copying it (batch mode); PostgreSQL
    # alters it in place. The new keys come first, so uniqueness is never absent.
    with op.batch_alter_table("deadlines") as batch_op:
        batch_op.create_unique_constraint("uq_deadlines_message_id_kind", ["message_id", "kind"])
        batch_op.create_unique_constraint("uq_deadlines_inbound_id_kind", ["inbound_id", "kind"])
        batch_op.drop_constraint("uq_deadlines_kind_message_id", type_="unique")
        batch_op.drop_constraint("uq_deadlines_kind_inbound_id", type_="unique")
        batch_op.drop_index("ix_deadlines_message_id")
        batch_op.drop_index("ix_deadlines_inbound_id")
    _partial("ix_deadlines_open", ["due_at", "id"], OPEN)
    _partial("ix_deadlines_overdue", ["due_at", "id"], OVERDUE)


def downgrade() -> None:
    op.drop_index("ix_deadlines_overdue", table_name="deadlines")
    op.drop_index("ix_deadlines_open", table_name="deadlines")
    with op.batch_alter_table("deadlines") as batch_op:
        batch_op.create_index("ix_deadlines_inbound_id", ["inbound_id"])
        batch_op.create_index("ix_deadlines_message_id", ["message_id"])
        batch_op.create_unique_constraint("uq_deadlines_kind_inbound_id", ["kind", "inbound_id"])
        batch_op.create_unique_constraint("uq_deadlines_kind_message_id", ["kind", "message_id"])
        batch_op.drop_constraint("uq_deadlines_inbound_id_kind", type_="unique")
        batch_op.drop_constraint("uq_deadlines_message_id_kind", type_="unique")
    op.create_index("ix_deadlines_open", "deadlines", ["met_at", "overdue_at", "due_at"])
