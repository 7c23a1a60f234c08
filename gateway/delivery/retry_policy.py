"""Retry policies as small composable strategy objects, in the manner of tenacity.

A policy answers one question: after attempt ``n`` failed at ``first_attempt + elapsed``,
when is the next try - or is it time to give up? Policies are data: they print
themselves for the operator view and the delivery-guarantees table.

>>> policy = RetryPolicy(wait_exponential_jitter(initial=10, multiplier=2, cap=3600, jitter=0),
...                      stop_after_days(5))
>>> [policy.wait.delay(n) for n in (1, 2, 3)]
[10.0, 20.0, 40.0]
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from gateway.settings import RetrySettings


@dataclass(frozen=True)
class wait_exponential_jitter:  # noqa: N801 - named like tenacity's strategies on purpose
    """``initial * multiplier**(n-1)``, capped, plus up to ``jitter`` seconds of random spread."""

    initial: float
    multiplier: float
    cap: float
    jitter: float = 0.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def base_delay(self, attempt: int) -> float:
        """The delay before jitter, for printing tables."""
        return float(min(self.cap, self.initial * self.multiplier ** max(0, attempt - 1)))

    def delay(self, attempt: int) -> float:
        spread = self.rng.uniform(0, self.jitter) if self.jitter else 0.0
        return min(self.cap, self.base_delay(attempt) + spread)


@dataclass(frozen=True)
class wait_fixed:  # noqa: N801
    """The same delay before every retry (the CORV contract: every 3 hours)."""

    interval: float

    def base_delay(self, attempt: int) -> float:
        return float(self.interval)

    def delay(self, attempt: int) -> float:
        return float(self.interval)


@dataclass(frozen=True)
class stop_after_days:  # noqa: N801
    """Give up once the next try would fall later than ``days`` after the first attempt."""

    days: float

    def should_stop(self, first_attempt_at: datetime, next_attempt_at: datetime, attempt: int = 0) -> bool:
        return next_attempt_at - first_attempt_at > timedelta(days=self.days)


@dataclass(frozen=True)
class stop_after_attempt:  # noqa: N801
    """Give up after ``retries`` re-sends, i.e. ``1 + retries`` attempts (CORV: 16 retries)."""

    retries: int

    def should_stop(self, first_attempt_at: datetime, next_attempt_at: datetime, attempt: int = 0) -> bool:
        return attempt >= 1 + self.retries


class WaitStrategy(Protocol):
    def base_delay(self, attempt: int) -> float: ...

    def delay(self, attempt: int) -> float: ...


class StopStrategy(Protocol):
    def should_stop(
        self, first_attempt_at: datetime, next_attempt_at: datetime, attempt: int = 0
    ) -> bool: ...


@dataclass(frozen=True)
class RetryPolicy:
    wait: WaitStrategy
    stop: StopStrategy

    def next_attempt(self, attempt: int, first_attempt_at: datetime, now: datetime) -> datetime | None:
        """When to try again after failed attempt number ``attempt``; None = give up."""
        candidate = now + timedelta(seconds=self.wait.delay(attempt))
        if self.stop.should_stop(first_attempt_at, candidate, attempt):
            return None
        return candidate

    def table(self, max_rows: int = 200) -> list[tuple[int, float, float]]:
        """(attempt, delay before the next one, cumulative seconds) until the horizon."""
        rows: list[tuple[int, float, float]] = []
        elapsed = 0.0
        start = datetime(2000, 1, 1, tzinfo=UTC)
        for attempt in range(1, max_rows + 1):
            delay = self.wait.base_delay(attempt)
            if self.stop.should_stop(start, start + timedelta(seconds=elapsed + delay), attempt):
                break
            elapsed += delay
            rows.append((attempt, delay, elapsed))
        return rows

    @classmethod
    def from_settings(cls, settings: RetrySettings) -> RetryPolicy:
        return cls(
            wait_exponential_jitter(
                settings.initial_delay_s, settings.multiplier, settings.max_delay_s, settings.jitter_s
            ),
            stop_after_days(settings.horizon_days),
        )
