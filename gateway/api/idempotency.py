"""``Idempotency-Key`` handling: the same key with the same body gets the same answer;
the same key with another body is a 409. Records are written in the transaction of the
work they describe, so a crash can never record an answer for work that was lost.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.api.problems import Problem
from gateway.runtime import Runtime
from gateway.store.tables import IdempotencyRecord

MAX_KEY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


def request_fingerprint(canonical_body: str) -> str:
    return hashlib.sha256(canonical_body.encode()).hexdigest()


def check_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise Problem(
            400,
            "invalid-idempotency-key",
            "The Idempotency-Key header is not usable",
            f"use 1 to {MAX_KEY_LENGTH} printable characters, e.g. a UUID",
        )


def replay(session: Session, client_id: int, key: str, fingerprint: str) -> StoredResponse | None:
    """The stored answer for this key, None if the key is new; 409 if the body differs."""
    record = session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.api_client_id == client_id, IdempotencyRecord.key == key
        )
    ).first()
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise Problem(
            409,
            "idempotency-key-reused",
            "The Idempotency-Key was used for another request",
            "a key identifies one request; send a new key for a different body",
        )
    return StoredResponse(record.status_code, record.response_body)


def remember(
    session: Session, runtime: Runtime, client_id: int, key: str, fingerprint: str, response: StoredResponse
) -> None:
    session.add(
        IdempotencyRecord(
            api_client_id=client_id,
            key=key,
            request_hash=fingerprint,
            status_code=response.status_code,
            response_body=response.body,
            created_at=runtime.clock.now(),
        )
    )
