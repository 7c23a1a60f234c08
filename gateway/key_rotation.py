"""Key rotation: a new active key, and old rows moved to it in batches.

Rotation without downtime: (1) ``gateway keys rotate`` adds a new key to the key file and
makes it active (or prints it for ``GATEWAY_ENCRYPTION__KEYS``); (2) restart the gateway
processes - new writes use the new key, old rows still decrypt with the old one;
(3) ``gateway keys reencrypt`` rewrites every row not under the active key (including
plaintext from before encryption) in short transactions; (4) the old key can then be
removed from the configuration. Both steps are recorded in the audit log (key ids only).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import LargeBinary, Table, Text, bindparam, select, tuple_, type_coerce, update

from gateway.audit import ActorKind, record_audit
from gateway.encryption import check_key_id, is_encrypted, key_id_of, new_key, read_key_file
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.encrypted_types import EncryptedBytes, EncryptedJSON, EncryptedText, key_ring_for
from gateway.store.tables import Base

_ENCRYPTED_TYPES = (EncryptedBytes, EncryptedJSON, EncryptedText)


def encrypted_columns() -> Iterator[tuple[Table, str]]:
    """(table, column name) of every encrypted column any module declares."""
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, _ENCRYPTED_TYPES):
                yield table, column.name


def add_key_to_file(key_file: Path, key_id: str) -> None:
    """Add a fresh key under ``key_id`` to the key file and make it active (file mode 0600)."""
    check_key_id(key_id)
    keys, _active = read_key_file(key_file) if key_file.exists() else ({}, "")
    if key_id in keys:
        raise ValueError(f"key id {key_id!r} exists already")
    keys[key_id] = new_key()
    temporary = key_file.with_suffix(key_file.suffix + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"active": key_id, "keys": keys}, handle, indent=2)
    os.replace(temporary, key_file)


def record_rotation(runtime: Runtime, key_id: str, actor: str) -> None:
    with transaction(runtime.sessions) as session:
        record_audit(
            session,
            actor=actor,
            actor_kind=ActorKind.CLI,
            action="keys.rotated",
            target=f"key:{key_id}",
            details={"new_active_key": key_id},
            now=runtime.clock.now(),
        )


def _stored_bytes(raw: str | bytes | memoryview) -> bytes:
    """A raw column value as bytes (SQLite may hand back pre-migration plaintext as str)."""
    return raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)


def _reencrypt_column(runtime: Runtime, table: Table, name: str, active_id: str, batch_size: int) -> int:
    """Rewrite one column's values not under ``active_id``, in keyset-paged batches.

    The primary key may be composite or textual (``corv_wire_chunks``: message id + seq).
    Each rewrite is a compare-and-swap on the stored bytes: a row the application changed
    between our read and our write (it writes under the active key already) is left alone,
    so re-encryption alongside a running gateway never loses an update.
    """
    keys = list(table.primary_key.columns)
    column = table.c[name]
    raw = type_coerce(column, LargeBinary)
    column_type: Any = column.type
    dialect = runtime.engine.dialect
    done = 0
    last: tuple[Any, ...] | None = None
    while True:
        query = select(*keys, raw.label("raw")).where(column.is_not(None)).order_by(*keys).limit(batch_size)
        if last is not None:
            query = query.where(tuple_(*keys) > tuple_(*last))
        with transaction(runtime.sessions) as session:
            rows = session.execute(query).all()
            for row in rows:
                stored = _stored_bytes(row.raw)
                if stored == b"" or (is_encrypted(stored) and key_id_of(stored) == active_id):
                    continue
                fresh = column_type.process_bind_param(
                    column_type.process_result_value(stored, dialect), dialect
                )
                # Compare with the value exactly as read (SQLite: TEXT never equals a BLOB).
                unchanged = (
                    type_coerce(column, Text) == row.raw if isinstance(row.raw, str) else raw == stored
                )
                identity = [key == value for key, value in zip(keys, row[: len(keys)], strict=True)]
                result = session.execute(
                    update(table)
                    .where(*identity, unchanged)
                    .values({name: bindparam(f"fresh_{name}", fresh, type_=LargeBinary)})
                )
                done += result.rowcount  # type: ignore[attr-defined]
        if len(rows) < batch_size:
            return done
        last = tuple(rows[-1][: len(keys)])


def reencrypt(runtime: Runtime, *, batch_size: int = 500, actor: str = "cli") -> dict[str, int]:
    """Rewrite every encrypted column's values not under the active key; counts per column."""
    ring = key_ring_for(runtime.engine.dialect)
    counts = {
        f"{table.name}.{name}": _reencrypt_column(runtime, table, name, ring.active_id, batch_size)
        for table, name in encrypted_columns()
    }
    with transaction(runtime.sessions) as session:
        record_audit(
            session,
            actor=actor,
            actor_kind=ActorKind.CLI,
            action="keys.reencrypted",
            target=f"key:{ring.active_id}",
            details={"rewritten": counts, "active_key": ring.active_id},
            now=runtime.clock.now(),
        )
    return counts
