"""Outbound CORV wire bytes: stored once in 1 MB chunks, streamed from the database on send.

A VTO with four 21 MB documents is ~115 MB on the wire. The worker claims
``messages.wire_body`` into memory for a whole batch, so for CORV that column holds
only a small JSON *descriptor*; the bytes themselves are ``corv_wire_chunks`` rows,
inserted one at a time (never the whole body in memory, never in the session's
identity map) in the same transaction as the message. Every attempt streams the same
chunks: the same MessageId, boundary and bytes, as ebMS reliable messaging requires.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.store.corv_tables import CorvWireChunk

CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class WireDescriptor:
    """What ``messages.wire_body`` holds for a CORV message."""

    message_id: int
    to_oin: str
    content_type: str
    size: int
    sha256: str
    chunks: int

    def encode(self) -> bytes:
        return json.dumps(
            {
                "corv_wire": {
                    "message_id": self.message_id,
                    "to_oin": self.to_oin,
                    "content_type": self.content_type,
                    "size": self.size,
                    "sha256": self.sha256,
                    "chunks": self.chunks,
                }
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, wire_body: bytes) -> WireDescriptor:
        """Raises ValueError for anything that is not a descriptor."""
        try:
            data = json.loads(wire_body)["corv_wire"]
            return cls(
                message_id=int(data["message_id"]),
                to_oin=str(data["to_oin"]),
                content_type=str(data["content_type"]),
                size=int(data["size"]),
                sha256=str(data["sha256"]),
                chunks=int(data["chunks"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError("not a stored CORV wire descriptor") from exc


def store_chunks(session: Session, message_id: int, source: BinaryIO) -> tuple[int, str, int]:
    """Copy ``source`` into chunks of ``message_id``; returns (size, sha256 hex, chunk count)."""
    digest = hashlib.sha256()
    size = 0
    seq = 0
    while True:
        data = source.read(CHUNK_BYTES)
        if not data:
            break
        digest.update(data)
        size += len(data)
        # Core insert: the session keeps no object per chunk (no 115 MB identity map).
        session.execute(insert(CorvWireChunk), {"message_id": message_id, "seq": seq, "data": data})
        seq += 1
    return size, digest.hexdigest(), seq


def iter_chunks(sessions: sessionmaker[Session], descriptor: WireDescriptor) -> Iterator[bytes]:
    """The stored bytes, one chunk per short read transaction (never the whole body at once)."""
    for seq in range(descriptor.chunks):
        with sessions() as session:
            data = session.scalar(
                select(CorvWireChunk.data).where(
                    CorvWireChunk.message_id == descriptor.message_id, CorvWireChunk.seq == seq
                )
            )
        if data is None:
            raise LookupError(f"wire chunk {seq} of message {descriptor.message_id} is missing")
        yield bytes(data)


def read_all(session: Session, message_id: int) -> bytes:
    """The whole stored body (for small messages, operators and tests)."""
    rows = session.scalars(
        select(CorvWireChunk.data).where(CorvWireChunk.message_id == message_id).order_by(CorvWireChunk.seq)
    )
    return b"".join(bytes(row) for row in rows)
