"""Encryption at rest: AES-256-GCM under a key ring, for payload bodies and personal fields.

Why a key ring: keys must be replaceable (a leaked backup key, a yearly rotation) without
re-encrypting everything at once. The *active* key encrypts; every key in the ring still
decrypts what it once encrypted; ``gateway keys reencrypt`` moves old rows to the active
key, after which an old key can be dropped from the configuration.

Stored format (binary)::

    b"\\xffGE" | version (1 byte, 1) | len(key id) (1 byte) | key id (ASCII) | nonce (12) | ciphertext+tag

``0xFF`` never starts UTF-8 text, XML or JSON, so a value without the marker is
recognisably *plaintext written before encryption was enabled* and is returned as it is
(``gateway keys reencrypt`` encrypts those too). The associated data binds a ciphertext to
its table and column (``messages.payload``) and to its header, so a ciphertext copied to
another column, or a header edited to name another key, fails to decrypt.

Keys come from settings (:class:`gateway.settings.EncryptionSettings`): ``keys`` (key id ->
base64 of 32 random bytes) and/or a ``key_file`` with ``{"active": ..., "keys": {...}}``.
Development mode without keys uses a fixed, published development key and says so at
start-up; production mode refuses to start without keys.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.settings import Mode

if TYPE_CHECKING:
    from gateway.settings import Settings

log = structlog.get_logger("gateway.encryption")

MAGIC = b"\xffGE"
VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")

#: Development only (published in the source): lets the Quickstart run without set-up.
DEV_KEY_ID = "dev"
DEV_KEY = b"gateway-development-key-PUBLIC!!"


class EncryptionError(Exception):
    """A value could not be encrypted or decrypted. The message never contains the data."""


class KeyConfigurationError(ValueError):
    """The configured keys are unusable (bad base64, wrong length, unknown active key)."""


@dataclass
class KeyRing:
    """Key id -> key, with the one that encrypts. AESGCM objects are built once per key."""

    keys: dict[str, bytes]
    active_id: str
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, repr=False)
    #: (active key id, context) -> (header, associated data): the same few bytes for every
    #: value of a column, built once instead of at each of the ~5 encryptions per decision.
    _sealing: dict[tuple[str, str], tuple[bytes, bytes]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyConfigurationError("the key ring is empty")
        for key_id, key in self.keys.items():
            check_key_id(key_id)
            if len(key) != KEY_BYTES:
                raise KeyConfigurationError(f"key {key_id!r} must be {KEY_BYTES} bytes (AES-256)")
            self._ciphers[key_id] = AESGCM(key)
        if self.active_id not in self.keys:
            raise KeyConfigurationError(f"the active key {self.active_id!r} is not in the key ring")

    def __repr__(self) -> str:  # never print key material
        return f"KeyRing(active={self.active_id!r}, ids={sorted(self.keys)!r})"

    @property
    def is_development(self) -> bool:
        return self.keys.get(DEV_KEY_ID) == DEV_KEY

    def encrypt(self, plaintext: bytes, context: str) -> bytes:
        active_id = self.active_id
        sealing = self._sealing.get((active_id, context))
        if sealing is None:
            key_id = active_id.encode("ascii")
            header = MAGIC + bytes((VERSION, len(key_id))) + key_id
            sealing = self._sealing[(active_id, context)] = (header, _aad(context, header))
        header, aad = sealing
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + self._ciphers[active_id].encrypt(nonce, plaintext, aad)

    def decrypt(self, blob: bytes, context: str) -> bytes:
        key_id, header, nonce, sealed = _split(blob, context)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise EncryptionError(
                f"{context}: encrypted under key {key_id!r}, which is not in the key ring"
                f" (configured: {', '.join(sorted(self.keys))})"
            )
        try:
            return cipher.decrypt(nonce, sealed, _aad(context, header))
        except InvalidTag:
            raise EncryptionError(
                f"{context}: decryption under key {key_id!r} failed - a wrong key for this id,"
                " or the value was altered or moved from another column"
            ) from None


def check_key_id(key_id: str) -> None:
    """Refuse a key id the stored header cannot carry (checked before a key file is written)."""
    if not _KEY_ID.fullmatch(key_id):
        raise KeyConfigurationError(f"key id {key_id!r}: 1-32 of A-Z a-z 0-9 . _ -")


def is_encrypted(value: bytes | str | None) -> bool:
    return isinstance(value, bytes | bytearray | memoryview) and bytes(value[:3]) == MAGIC


def key_id_of(blob: bytes) -> str | None:
    """The key id a stored value was encrypted under (None: plaintext)."""
    if not is_encrypted(blob) or len(blob) < 5:
        return None
    length = blob[4]
    return blob[5 : 5 + length].decode("ascii", errors="replace")


def _aad(context: str, header: bytes) -> bytes:
    return b"gateway-at-rest|" + context.encode() + b"|" + header


def _split(blob: bytes, context: str) -> tuple[str, bytes, bytes, bytes]:
    if len(blob) < 5 or blob[3] != VERSION:
        raise EncryptionError(f"{context}: unknown encryption format version")
    length = blob[4]
    header = blob[: 5 + length]
    nonce = blob[5 + length : 5 + length + NONCE_BYTES]
    sealed = blob[5 + length + NONCE_BYTES :]
    if len(nonce) != NONCE_BYTES or len(sealed) < 16:
        raise EncryptionError(f"{context}: truncated ciphertext")
    return header[5:].decode("ascii", errors="replace"), header, nonce, sealed


def decode_key(key_id: str, encoded: str) -> bytes:
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigurationError(f"key {key_id!r} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise KeyConfigurationError(f"key {key_id!r} must decode to {KEY_BYTES} bytes, not {len(key)}")
    return key


def new_key() -> str:
    """A fresh key, base64: what ``gateway keys rotate`` prints for the configuration."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def read_key_file(path: Path) -> tuple[dict[str, str], str]:
    """``{"active": id, "keys": {id: base64}}`` from a file readable only by the gateway."""
    try:
        document: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KeyConfigurationError(f"key file {path}: {exc.strerror}") from None
    except json.JSONDecodeError:
        raise KeyConfigurationError(f"key file {path} is not JSON") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise KeyConfigurationError(
            f'key file {path}: expected {{"active": "...", "keys": {{"id": "base64"}}}}'
        )
    return dict(keys), str(document.get("active") or "")


def build_key_ring(keys: dict[str, str], active: str, key_file: Path | None, *, development: bool) -> KeyRing:
    """The ring from settings: file keys, then settings keys; active = named, else the last listed."""
    encoded: dict[str, str] = {}
    if key_file is not None:
        file_keys, file_active = read_key_file(key_file)
        encoded.update(file_keys)
        active = active or file_active
    encoded.update(keys)
    if not encoded:
        if not development:
            raise KeyConfigurationError(
                "production mode needs encryption keys:"
                " GATEWAY_ENCRYPTION__KEYS or GATEWAY_ENCRYPTION__KEY_FILE"
            )
        return KeyRing({DEV_KEY_ID: DEV_KEY}, DEV_KEY_ID)
    decoded = {key_id: decode_key(key_id, value) for key_id, value in encoded.items()}
    return KeyRing(decoded, active or list(decoded)[-1])


_rings: dict[tuple[Any, ...], KeyRing] = {}


def key_ring_from_settings(settings: Settings) -> KeyRing:
    """The settings' key ring, built once per distinct configuration (AESGCM objects cached).

    Development mode without keys logs a loud warning: the development key is public.
    """
    config = settings.encryption
    development = settings.mode is Mode.DEVELOPMENT
    cache_key = (tuple(config.keys.items()), config.active_key, config.key_file, development)
    ring = _rings.get(cache_key) if config.key_file is None else None  # a file may change
    if ring is None:
        ring = build_key_ring(config.keys, config.active_key, config.key_file, development=development)
        _rings[cache_key] = ring
        if config.key_file is not None and config.key_file.stat().st_mode & 0o077:
            log.warning(
                "encryption_key_file_readable_by_others",
                path=str(config.key_file),
                note="chmod 600 the key file: anyone who can read it can read all personal data",
            )
        if ring.is_development:
            log.warning(
                "encryption_development_key",
                note="DEVELOPMENT KEY IN USE: stored personal data is encrypted with a public key."
                " Set GATEWAY_ENCRYPTION__KEYS before storing real data.",
            )
    return ring
