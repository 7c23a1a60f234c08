"""Operations (issue 6): operators, sessions, replay jobs, alerts, route controls

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("name", name=op.f("uq_operators_name")),
    )
    op.create_table(
        "operator_sessions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("operator_id", _ID, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_operator_sessions_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_operator_sessions_token_hash")),
    )
    op.create_index(op.f("ix_operator_sessions_operator_id"), "operator_sessions", ["operator_id"])
    op.create_table(
        "route_controls",
        sa.Column("route", sa.String(length=60), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(length=100), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("route", name=op.f("pk_route_controls")),
    )
    op.create_table(
        "replay_jobs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("confirmation_hash", sa.String(length=64), nullable=False),
        sa.Column("confirm_before", sa.DateTime(), nullable=False),
        sa.Column("confirmed_by", sa.String(length=100), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replay_jobs")),
    )
    op.create_index(op.f("ix_replay_jobs_status"), "replay_jobs", ["status"])
    op.create_table(
        "replay_job_items",
        sa.Column("job_id", _ID, nullable=False),
        sa.Column("message_id", _ID, nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("new_message_id", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["replay_jobs.id"], name=op.f("fk_replay_job_items_job_id_replay_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_replay_job_items_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("job_id", "message_id", name=op.f("pk_replay_job_items")),
    )
    op.create_index("ix_replay_job_items_pending", "replay_job_items", ["job_id", "state"])
    op.create_table(
        "ops_alerts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("alert_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("route", sa.String(length=60), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("deadline_id", sa.BigInteger(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=True),
        sa.Column("window_end", sa.DateTime(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_alerts")),
        sa.UniqueConstraint("alert_key", name=op.f("uq_ops_alerts_alert_key")),
    )
    op.create_index(op.f("ix_ops_alerts_kind"), "ops_alerts", ["kind"])
    op.create_index(op.f("ix_ops_alerts_status"), "ops_alerts", ["status"])
    op.create_index(op.f("ix_ops_alerts_message_id"), "ops_alerts", ["message_id"])
    # The route-failure alert scans only the lookback's attempts, not the whole history.
    op.create_index("ix_delivery_attempts_finished_at", "delivery_attempts", ["finished_at"])
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replay_of_id", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_messages_replay_of_id"), ["replay_of_id"], unique=False)


def downgrade() -> None:
    # Native ALTERs, not a batch copy: copying `messages` on SQLite fails as soon as rows
    # elsewhere reference it (FOREIGN KEY constraint failed); SQLite 3.35+ drops in place.
    op.drop_index(op.f("ix_messages_replay_of_id"), table_name="messages")
    op.drop_column("messages", "replay_of_id")
    for index, table in (
        ("ix_delivery_attempts_finished_at", "delivery_attempts"),
        ("ix_ops_alerts_message_id", "ops_alerts"),
        ("ix_ops_alerts_status", "ops_alerts"),
        ("ix_ops_alerts_kind", "ops_alerts"),
        ("ix_replay_job_items_pending", "replay_job_items"),
        ("ix_replay_jobs_status", "replay_jobs"),
        ("ix_operator_sessions_operator_id", "operator_sessions"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "ops_alerts",
        "replay_job_items",
        "replay_jobs",
        "route_controls",
        "operator_sessions",
        "operators",
    ):
        op.drop_table(table)
