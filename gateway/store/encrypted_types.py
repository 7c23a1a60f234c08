"""Column types that encrypt on the way in and decrypt on the way out (AES-GCM, see gateway.encryption).

Use them for every column holding a body or personal data, so that code reading and
writing the ORM attributes does not change::

    payload: Mapped[bytes] = mapped_column(EncryptedBytes("messages.payload"))
    client: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("beschikkingen.client"))
    bsn: Mapped[str] = mapped_column(EncryptedText("beschikkingen.bsn"))

The argument names the table and column: it is bound into the ciphertext (associated
data), so a value copied into another column does not decrypt. The database column is
binary (``LargeBinary``/``bytea``) in every case. Such columns cannot be searched or
compared in SQL: search by a keyed hash next to it (``bsn_hash``, gateway.bsn).

The key ring is the engine's (installed by :class:`gateway.runtime.Runtime`); a value
without the encryption marker is plaintext from before encryption and is returned as is.
An empty ``bytes`` value (a body removed by retention) is stored and returned as empty.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from gateway.encryption import KeyRing, is_encrypted

_DIALECT_ATTRIBUTE = "gateway_key_ring"
_process_default: list[KeyRing] = []


def install_key_ring(engine: Engine, ring: KeyRing) -> None:
    """Make ``ring`` the one this engine's encrypted columns use (and the process default)."""
    setattr(engine.dialect, _DIALECT_ATTRIBUTE, ring)
    _process_default[:] = [ring]


def key_ring_for(dialect: Dialect) -> KeyRing:
    ring = getattr(dialect, _DIALECT_ATTRIBUTE, None)
    if ring is not None:
        return ring  # type: ignore[no-any-return]
    if _process_default:
        return _process_default[0]
    raise RuntimeError("no encryption key ring installed: create the engine through Runtime.create")


def _as_bytes(value: Any) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


class EncryptedBytes(TypeDecorator[bytes]):
    impl = LargeBinary
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        if value is None or value == b"":
            return value
        return key_ring_for(dialect).encrypt(bytes(value), self.context)

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        if not is_encrypted(value):
            return _as_bytes(value)
        return key_ring_for(dialect).decrypt(bytes(value), self.context)


class EncryptedText(TypeDecorator[str]):
    impl = LargeBinary
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        return key_ring_for(dialect).encrypt(value.encode("utf-8"), self.context)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not is_encrypted(value):
            return value if isinstance(value, str) else bytes(value).decode("utf-8")
        return key_ring_for(dialect).decrypt(bytes(value), self.context).decode("utf-8")


class EncryptedJSON(TypeDecorator[Any]):
    impl = LargeBinary
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        document = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return key_ring_for(dialect).encrypt(document, self.context)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, dict | list):  # a JSON column not yet migrated (defensive)
            return value
        if not is_encrypted(value):
            return json.loads(_as_bytes(value))
        return json.loads(key_ring_for(dialect).decrypt(bytes(value), self.context))
