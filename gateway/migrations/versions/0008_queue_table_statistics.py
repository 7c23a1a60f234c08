"""Fresh planner statistics for the two queue tables (PostgreSQL)

``messages`` and ``deadlines`` are queues: their rows change state within seconds, and
the hot statements (the claim, a result, a retour) are planned from the statistics of
how many rows are queued, sending or open. PostgreSQL's defaults re-analyse a table
after 10 % of its rows changed (vacuum after 20 %): with a million finished messages
that is 100,000 changes, so at the start of a year-change peak the planner still
believes almost nothing is queued and may read every queued message through a partial
index where it should fetch twenty by id. At 1 % (analyse) and 2 % (vacuum, which also
clears the dead index entries the in-flight count reads) the statistics follow within
the autovacuum cycle. SQLite has no such settings: nothing to do there.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The queue tables and what they get; the rest keep PostgreSQL's defaults.
TABLES = ("messages", "deadlines")
SETTINGS = {"autovacuum_analyze_scale_factor": "0.01", "autovacuum_vacuum_scale_factor": "0.02"}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    options = ", ".join(f"{name} = {value}" for name, value in SETTINGS.items())
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET ({options})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET ({', '.join(SETTINGS)})")
