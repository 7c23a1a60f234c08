"""What the mock hub received and sent, for tests and operators (``/_mock/corv/...``)."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Received:
    """One distinct received ebMS MessageId (duplicates only raise ``deliveries``)."""

    message_id: str
    action: str
    from_party: str
    deliveries: int = 1
    processed: int = 0
    ref_to_message_id: str | None = None
    referentienummer: str | None = None
    zaak_identificatie: str | None = None
    outcome: str = "received"
    first_at: str = field(default_factory=_now)
    # the exact response given (replayed for a duplicate)
    response_status: int = 200
    response_type: str = ""
    response_body: bytes = field(default=b"", repr=False)

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("response_body", "response_type"):
            data.pop(key)
        return data


@dataclass
class Sent:
    """One message the hub sent to the gateway, and what came back."""

    message_id: str
    action: str
    referentienummer: str | None
    ref_to_message_id: str | None = None
    attempts: int = 0
    status: str = "pending"  # pending / acked / refused / gave_up
    answer_berichtcode: str | None = None
    answer_code: str | None = None
    answer_omschrijving: str | None = None
    ebms_error: str | None = None
    last_http_status: int | None = None
    created_at: str = field(default_factory=_now)


class Ledger:
    """Thread-safe records of received and sent messages."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: dict[str, Received] = {}
        self.sent: dict[str, Sent] = {}
        #: (zender organisatie, referentienummer) of accepted Di01s, for StUF016.
        self.stuf_refs: set[tuple[str, str]] = set()
        #: Errors at the ebMS level (no MessageId known or refused), newest last.
        self.refusals: list[dict[str, Any]] = []

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self.sent.clear()
            self.stuf_refs.clear()
            self.refusals.clear()

    def seen(self, message_id: str) -> Received | None:
        with self._lock:
            item = self.received.get(message_id)
            if item is not None:
                item.deliveries += 1
            return item

    def add(self, item: Received) -> None:
        with self._lock:
            self.received[item.message_id] = item

    def refuse(self, code: str, description: str, message_id: str | None) -> None:
        with self._lock:
            self.refusals.append(
                {"code": code, "description": description, "message_id": message_id, "at": _now()}
            )

    def claim_stuf_ref(self, zender: str, referentienummer: str) -> bool:
        """Record a (zender, referentienummer); False when it was seen before (StUF016)."""
        with self._lock:
            key = (zender, referentienummer)
            if key in self.stuf_refs:
                return False
            self.stuf_refs.add(key)
            return True

    def listing(self) -> dict[str, Any]:
        with self._lock:
            return {
                "received": [r.public() for r in self.received.values()],
                "refusals": list(self.refusals),
            }

    def sent_listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(s) for s in self.sent.values()]
