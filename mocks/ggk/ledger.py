"""What the mock GGk has received, for tests and developers to inspect.

Holds routing metadata only - referentienummers, functie, parties, outcome, the
payload's BerichtIdentificatie and a SHA-256 of the payload - never a payload, so
nothing here can leak a BSN. The digest lets a fault-injection test check that every
re-send of one message carried the same referentienummer (one digest, one record).
``accepted`` referentienummers are what the duplicate check (IB016) is made against: a
message the GGk refused (503, Fo03) was never taken in, so offering it again with the
same referentienummer is not a duplicate.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(slots=True)
class Received:
    referentienummer: str | None
    operation: str
    functie: str | None
    zender: str | None
    ontvanger: str | None
    times_seen: int
    outcome: str
    accepted: bool = False
    retour_referentienummer: str | None = None
    #: The payload's BerichtIdentificatie (envelope ``referentienummerBericht``), when given.
    bericht_identificatie: str | None = None
    payload_sha256: str | None = None
    #: How often the aanbieder's answer was delivered (2 after a ``duplicate_retour`` fault).
    retours_delivered: int = 0


class Ledger:
    """Thread-safe record of every request, keyed by referentienummer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_ref: dict[str, Received] = {}
        self._unkeyed: list[Received] = []
        self.duplicates_seen = 0
        self.callbacks_delivered = 0
        self.callbacks_failed = 0

    def reset(self) -> None:
        with self._lock:
            self._by_ref.clear()
            self._unkeyed.clear()
            self.duplicates_seen = 0
            self.callbacks_delivered = 0
            self.callbacks_failed = 0

    def seen(
        self,
        *,
        referentienummer: str | None,
        operation: str,
        functie: str | None,
        zender: str | None,
        ontvanger: str | None,
        outcome: str,
        bericht_identificatie: str | None = None,
        payload_sha256: str | None = None,
    ) -> Received:
        """Record an arrival (a re-send increments ``times_seen``) and return its record."""
        with self._lock:
            if referentienummer is None:
                record = Received(None, operation, functie, zender, ontvanger, 1, outcome)
                self._unkeyed.append(record)
                return record
            record_or_none = self._by_ref.get(referentienummer)
            if record_or_none is None:
                record = Received(
                    referentienummer,
                    operation,
                    functie,
                    zender,
                    ontvanger,
                    1,
                    outcome,
                    bericht_identificatie=bericht_identificatie,
                    payload_sha256=payload_sha256,
                )
                self._by_ref[referentienummer] = record
            else:
                record = record_or_none
                record.times_seen += 1
            return record

    def is_accepted(self, referentienummer: str) -> bool:
        with self._lock:
            record = self._by_ref.get(referentienummer)
            return record is not None and record.accepted

    def count_duplicate(self, referentienummer: str) -> None:
        with self._lock:
            self.duplicates_seen += 1
            record = self._by_ref.get(referentienummer)
            if record is not None:
                record.times_seen += 1

    def update(
        self,
        referentienummer: str | None,
        *,
        outcome: str | None = None,
        accepted: bool | None = None,
        retour_referentienummer: str | None = None,
        retours_delivered: int | None = None,
    ) -> None:
        if referentienummer is None:
            return
        with self._lock:
            record = self._by_ref.get(referentienummer)
            if record is None:
                return
            if retours_delivered is not None:
                record.retours_delivered = retours_delivered
            if outcome is not None:
                record.outcome = outcome
            if accepted is not None:
                record.accepted = accepted
            if retour_referentienummer is not None:
                record.retour_referentienummer = retour_referentienummer

    def callback_done(self, delivered: bool) -> None:
        with self._lock:
            if delivered:
                self.callbacks_delivered += 1
            else:
                self.callbacks_failed += 1

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in (*self._by_ref.values(), *self._unkeyed)]

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "received": len(self._by_ref) + len(self._unkeyed),
                "duplicates_seen": self.duplicates_seen,
                "callbacks_delivered": self.callbacks_delivered,
                "callbacks_failed": self.callbacks_failed,
            }
