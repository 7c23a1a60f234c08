"""Scale (issue 7): claim indexes, archive, bulk intake

Partial indexes over the live part of the outbox only: the claim query (due ``queued``
messages, oldest first) and the per-route count of in-flight (``sending``) messages read
index entries for live rows alone, so their cost does not grow with the history of
finished messages. No archive table is needed for that (see docs/delivery-guarantees.md,
"Claim cost and history"); removing old bodies is retention's job (migration 0003).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_queued_due",
        "messages",
        ["next_attempt_at", "id"],
        postgresql_where=sa.text("state = 'queued'"),
        sqlite_where=sa.text("state = 'queued'"),
    )
    op.create_index(
        "ix_messages_sending_route",
        "messages",
        ["route"],
        postgresql_where=sa.text("state = 'sending'"),
        sqlite_where=sa.text("state = 'sending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_sending_route", table_name="messages")
    op.drop_index("ix_messages_queued_due", table_name="messages")
