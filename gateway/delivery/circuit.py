"""A circuit breaker per route, so a partner that is down is not hammered.

Why: when an aanbieder's route (or the GGk in front of it) fails, every claim would send
it more messages that fail too, each costing a connection, a timeout and a retry slot.
After ``threshold`` consecutive failures (retryable or unknown outcomes) the route's
circuit *opens*: the worker claims nothing for it during ``cool_down_s``. Then it is
*half-open*: exactly one message is let through as a probe; delivered (or any answer
that shows the partner is listening, such as a permanent refusal) closes the circuit,
another failure opens it again for a fresh cool-down.

The state is **per worker process** (in memory): each worker learns about a partner's
trouble by itself, within ``threshold`` failures. That is deliberate - a shared circuit
would need a write per attempt on the shared database for little gain, and the per-route
concurrency cap (counted in the database) already bounds the load all workers together
put on a route. Operators read the state through :func:`snapshot`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from gateway.delivery.outcome import OutcomeKind

#: Outcomes that say "the partner did not take it": they count towards opening.
_FAILURES = frozenset({OutcomeKind.RETRYABLE, OutcomeKind.UNKNOWN})


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class _Circuit:
    consecutive_failures: int = 0
    opened_at: datetime | None = None
    probe_started_at: datetime | None = None
    last_failure: str | None = None


class CircuitBreakers:
    """The circuits of one worker, keyed by route (``ggk:99990001``, ``webhook:x``)."""

    def __init__(
        self, threshold: int, cool_down_s: float, now: Callable[[], datetime], owner: str = ""
    ) -> None:
        self.threshold = threshold
        self.cool_down = timedelta(seconds=cool_down_s)
        self.owner = owner
        self._now = now
        self._circuits: dict[str, _Circuit] = {}
        self._lock = threading.Lock()
        _REGISTRY.add(self)

    def _state(self, circuit: _Circuit, now: datetime) -> CircuitState:
        if circuit.opened_at is None:
            return CircuitState.CLOSED
        if now - circuit.opened_at < self.cool_down:
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    def state(self, route: str) -> CircuitState:
        with self._lock:
            circuit = self._circuits.get(route)
            return CircuitState.CLOSED if circuit is None else self._state(circuit, self._now())

    def allowance(self, route: str) -> int | None:
        """How many messages of ``route`` may be claimed now: None = no limit, 0 = none."""
        with self._lock:
            circuit = self._circuits.get(route)
            if circuit is None:
                return None
            now = self._now()
            state = self._state(circuit, now)
            if state is CircuitState.CLOSED:
                return None
            if state is CircuitState.OPEN:
                return 0
            # Half-open: one probe at a time; a probe whose result never came back (the
            # worker thread died) is given up after another cool-down.
            probe = circuit.probe_started_at
            if probe is not None and now - probe < self.cool_down:
                return 0
            return 1

    def blocked_routes(self) -> list[str]:
        """Routes that may not be claimed at all right now (open, or a probe in flight)."""
        return [route for route in list(self._circuits) if self.allowance(route) == 0]

    def claimed(self, route: str) -> None:
        """A message of ``route`` was claimed; in half-open state it is the probe."""
        with self._lock:
            circuit = self._circuits.get(route)
            if circuit is not None and self._state(circuit, self._now()) is CircuitState.HALF_OPEN:
                circuit.probe_started_at = self._now()

    def record(self, route: str, kind: OutcomeKind, detail: str | None = None) -> CircuitState:
        """Feed one attempt's outcome; returns the route's state afterwards."""
        with self._lock:
            now = self._now()
            if kind not in _FAILURES:
                # The partner answered: whatever it said, it is reachable.
                self._circuits.pop(route, None)
                return CircuitState.CLOSED
            circuit = self._circuits.setdefault(route, _Circuit())
            circuit.consecutive_failures += 1
            circuit.last_failure = detail or kind.value
            state = self._state(circuit, now)
            if state is CircuitState.HALF_OPEN or (
                state is CircuitState.CLOSED and circuit.consecutive_failures >= self.threshold
            ):
                circuit.opened_at = now
                circuit.probe_started_at = None
                return CircuitState.OPEN
            return state

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            now = self._now()
            rows = []
            for route, circuit in sorted(self._circuits.items()):
                state = self._state(circuit, now)
                rows.append(
                    {
                        "route": route,
                        "state": state.value,
                        "consecutive_failures": circuit.consecutive_failures,
                        "opened_at": circuit.opened_at,
                        "half_open_at": None
                        if circuit.opened_at is None
                        else circuit.opened_at + self.cool_down,
                        "last_failure": circuit.last_failure,
                        "worker": self.owner,
                    }
                )
            return rows


_REGISTRY: weakref.WeakSet[CircuitBreakers] = weakref.WeakSet()


def snapshot() -> list[dict[str, Any]]:
    """Every route with a failure streak or a non-closed circuit, in every worker of this process.

    Each row: ``route``, ``state`` (closed | open | half_open), ``consecutive_failures``,
    ``opened_at``, ``half_open_at`` (when the next probe may go), ``last_failure`` (no
    personal data: an outcome, status and chain code), ``worker``. Routes not listed are
    closed with no failures. Other worker processes keep their own circuits.
    """
    rows: list[dict[str, Any]] = []
    for breakers in list(_REGISTRY):
        rows.extend(breakers.snapshot())
    return rows
