"""Cheaper message updates: partial indexes instead of full ones on ``messages``

Every message row is updated about four times on its way (queued, sending, delivered,
answered), and ``state`` is indexed, so no update is HOT: each one adds an entry to every
full index on the table, and to a partial index only when the new row matches its
predicate. Four full indexes were only ever searched for a small part of the rows:

- ``ix_messages_replay_of_id`` and ``ix_messages_answers_inbound_id``: only ``col = :id``
  lookups (a message's replays; an ad-hoc "what answered this inbound") and the
  "not replayed" anti-joins, which never look for NULL. Partial ``WHERE col IS NOT NULL``:
  PostgreSQL proves ``col = $1`` implies ``col IS NOT NULL`` (``=`` is strict), so even a
  generic plan uses them.
- ``ix_messages_lease (state, lease_expires_at)``: only the lease rescuer reads it, always
  with ``state = 'sending'``. Now ``ix_messages_sending_lease (lease_expires_at) WHERE
  state = 'sending'``: an entry on the claim, none on the other updates.
- ``ix_messages_due (state, next_attempt_at)``: the claim query has
  ``ix_messages_queued_due`` (0006); what still needs a ``state`` index are the
  operators' filters on the few stuck or refused messages (parked, rejected, expired; the
  parked gauge, alerts and overview; the console and API state filter). Now
  ``ix_messages_held (state, id) WHERE state IN ('accepted', 'parked', 'rejected',
  'expired')``. ``queued``/``sending`` are served by the 0006 partial indexes;
  ``delivered``/``answered`` are most of the table, where a scan in id order is the plan
  anyway. Full on SQLite, whose planner cannot use it otherwise for ``state = 'parked'``.

Together: a queued -> sending -> delivered -> answered round trip writes 27 index entries
instead of 42 (4 fewer per update; docs/scale.md, "Index upkeep per update"). Like the
0006 indexes, the ``state = 'sending'``/``IN (...)`` ones need the value known at planning
(a custom plan; PostgreSQL keeps those because a generic plan would cost a table scan).

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The states ``ix_messages_held`` covers: rare, and what operators look for.
HELD = "state IN ('accepted', 'parked', 'rejected', 'expired')"


def _partial(name: str, columns: list[str], where: str) -> None:
    op.create_index(name, "messages", columns, postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def upgrade() -> None:
    # Create the replacements first, so no reader is ever left without an index.
    _partial("ix_messages_sending_lease", ["lease_expires_at"], "state = 'sending'")
    # Full on SQLite: its planner cannot prove ``state = 'parked'`` implies ``state IN (...)``.
    op.create_index("ix_messages_held", "messages", ["state", "id"], postgresql_where=sa.text(HELD))
    op.drop_index("ix_messages_lease", table_name="messages")
    op.drop_index("ix_messages_due", table_name="messages")
    for column in ("replay_of_id", "answers_inbound_id"):
        op.drop_index(f"ix_messages_{column}", table_name="messages")
        _partial(f"ix_messages_{column}", [column], f"{column} IS NOT NULL")


def downgrade() -> None:
    for column in ("answers_inbound_id", "replay_of_id"):
        op.drop_index(f"ix_messages_{column}", table_name="messages")
        op.create_index(f"ix_messages_{column}", "messages", [column])
    op.create_index("ix_messages_due", "messages", ["state", "next_attempt_at"])
    op.create_index("ix_messages_lease", "messages", ["state", "lease_expires_at"])
    op.drop_index("ix_messages_held", table_name="messages")
    op.drop_index("ix_messages_sending_lease", table_name="messages")
