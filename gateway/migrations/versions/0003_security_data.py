"""Security (issue 8): encryption key ids, retention records, hash-chained audit log

Revision ID: 0003
Revises: 0002

Existing plaintext rows stay readable: the encrypted column types recognise a value
without their marker byte as plaintext written before this revision and return it as it
is; ``gateway keys reencrypt`` then encrypts them under the active key (docs/security.md).
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: Personal fields that become encrypted (binary) columns: table -> [(column, old type, nullable)].
#: Bodies (messages.payload/wire_body, inbound_messages.body/payload) were binary already.
_TO_BINARY: dict[str, list[tuple[str, sa.types.TypeEngine[Any], bool]]] = {
    "beschikkingen": [
        ("bsn", sa.String(length=9), False),
        ("client", sa.JSON(), False),
        ("verwijzer", sa.JSON(), True),
        ("commentaar", sa.Text(), True),
    ],
    "toewijzingen": [("commentaar", sa.Text(), True)],
    "verzoeken": [("bsn", sa.String(length=9), False), ("inhoud", sa.JSON(), False)],
}


@contextmanager
def _sqlite_foreign_keys_off() -> Iterator[None]:
    """SQLite: foreign keys off while batch mode copies tables that others reference.

    A batch copy drops the old table, which with foreign keys on fails as soon as a row
    anywhere references it ("FOREIGN KEY constraint failed"). The pragma has no effect
    inside a transaction, so it is switched in autocommit blocks (committing the
    revisions before this one); the references are checked before it is switched on again.
    On failure it stays off: the migration's connection is discarded (and the pragma is
    per connection), while switching it in an autocommit block would commit half the work.
    """
    context = op.get_context()
    if context.dialect.name != "sqlite":
        yield
        return
    with context.autocommit_block():
        op.execute("PRAGMA foreign_keys=OFF")
    yield
    if not context.as_sql:
        broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"references broken by the table copy: {broken[:5]}")
    with context.autocommit_block():
        op.execute("PRAGMA foreign_keys=ON")


def _to_binary() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, columns in _TO_BINARY.items():
        with op.batch_alter_table(table) as batch:
            for column, old_type, nullable in columns:
                as_text = f"{column}::text" if isinstance(old_type, sa.JSON) else column
                batch.alter_column(
                    column,
                    existing_type=old_type,
                    type_=sa.LargeBinary(),
                    existing_nullable=nullable,
                    # Plaintext stays readable (no encryption marker); `gateway keys reencrypt` encrypts it.
                    postgresql_using=f"convert_to({as_text}, 'UTF8')" if postgres else None,
                )


def _from_binary() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, columns in _TO_BINARY.items():
        with op.batch_alter_table(table) as batch:
            for column, old_type, nullable in columns:
                cast = "::json" if isinstance(old_type, sa.JSON) else ""
                batch.alter_column(
                    column,
                    existing_type=sa.LargeBinary(),
                    type_=old_type,
                    existing_nullable=nullable,
                    postgresql_using=f"convert_from({column}, 'UTF8'){cast}" if postgres else None,
                )


def upgrade() -> None:
    with _sqlite_foreign_keys_off():
        _to_binary()
    op.create_table(
        "audit_log",
        sa.Column("id", _ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_log_seq")),
    )
    op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"], unique=False)
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": "0" * 64}])
    op.create_table(
        "retention_runs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("body_cutoff", sa.DateTime(), nullable=False),
        sa.Column("metadata_cutoff", sa.DateTime(), nullable=False),
        sa.Column("removed", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )


def downgrade() -> None:
    op.drop_table("retention_runs")
    op.drop_table("audit_chain_head")
    op.drop_index(op.f("ix_audit_log_action"), table_name="audit_log")
    op.drop_table("audit_log")
    # Only plaintext rows convert back: decrypt first (there is no command for that on purpose).
    with _sqlite_foreign_keys_off():
        _from_binary()
