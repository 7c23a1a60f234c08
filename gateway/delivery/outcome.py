"""What one send attempt achieved.

- ``delivered``: the partner took responsibility for the message (GGk: a Bv03).
- ``retryable``: it certainly did not arrive, or the partner asked us to come back
  (503, connection refused, IB103): try again later, same ids.
- ``permanent``: the partner refused it for a reason a retry will not fix: park it for
  an operator.
- ``unknown``: we sent it but do not know whether it arrived (a timeout after sending,
  a dropped connection): retry with the same ids; the partner deduplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OutcomeKind(StrEnum):
    DELIVERED = "delivered"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    http_status: int | None = None
    code: str | None = None
    detail: str | None = None
