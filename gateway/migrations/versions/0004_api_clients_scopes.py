"""Security (issue 8): scoped, rotatable, rate-limited API keys

Revision ID: 0004
Revises: 0003

A client's key moves from ``api_clients`` to its own table ``api_keys`` (several keys
per client, for rotation without downtime); clients get optional rate and size limits.
Existing keys keep working: each becomes the client's first ``api_keys`` row. Scopes
stay as they are (the old ``beschikkingen:write`` / ``berichten:read`` still mean both
laws, see gateway.api_keys).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", _ID, nullable=False),
        sa.Column("client_id", _ID, nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", gateway.store.tables.UTCDateTime(), nullable=False),
        sa.Column("expires_at", gateway.store.tables.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", gateway.store.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["api_clients.id"], name=op.f("fk_api_keys_client_id_api_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_keys_prefix"), ["prefix"], unique=False)
    op.execute(
        "INSERT INTO api_keys (client_id, prefix, key_hash, created_at) "
        "SELECT id, key_prefix, key_hash, created_at FROM api_clients"
    )
    # Native ALTERs, not a batch copy: SQLite (3.35+) drops columns in place, and a batch
    # copy would DROP the table that beschikkingen, idempotency_records and api_keys
    # reference (foreign keys are enforced).
    op.drop_index(op.f("ix_api_clients_key_prefix"), table_name="api_clients")
    op.drop_column("api_clients", "key_prefix")
    op.drop_column("api_clients", "key_hash")
    op.add_column("api_clients", sa.Column("rate_per_minute", sa.Integer(), nullable=True))
    op.add_column("api_clients", sa.Column("burst", sa.Integer(), nullable=True))
    op.add_column("api_clients", sa.Column("max_body_bytes", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Back to one key per client: the newest key that is not revoked (clients without one
    get an unusable hash)."""
    op.drop_column("api_clients", "max_body_bytes")
    op.drop_column("api_clients", "burst")
    op.drop_column("api_clients", "rate_per_minute")
    op.add_column("api_clients", sa.Column("key_prefix", sa.String(length=16), nullable=True))
    op.add_column("api_clients", sa.Column("key_hash", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE api_clients SET "
        "key_prefix = COALESCE((SELECT k.prefix FROM api_keys k WHERE k.client_id = api_clients.id "
        "AND k.revoked_at IS NULL ORDER BY k.id DESC LIMIT 1), ''), "
        "key_hash = COALESCE((SELECT k.key_hash FROM api_keys k WHERE k.client_id = api_clients.id "
        "AND k.revoked_at IS NULL ORDER BY k.id DESC LIMIT 1), '')"
    )
    if op.get_bind().dialect.name != "sqlite":  # SQLite would need a table copy (see upgrade)
        op.alter_column("api_clients", "key_prefix", existing_type=sa.String(length=16), nullable=False)
        op.alter_column("api_clients", "key_hash", existing_type=sa.String(length=64), nullable=False)
    op.create_index(op.f("ix_api_clients_key_prefix"), "api_clients", ["key_prefix"], unique=False)
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_prefix"))
        batch_op.drop_index(batch_op.f("ix_api_keys_client_id"))
    op.drop_table("api_keys")
