"""Transport faults of the mock GGk, drawn at random - seeded, so a run can be repeated.

Behaviour rules (:mod:`mocks.ggk.behaviour`) script what happens to the *next* message;
faults are the weather: a share of all traffic meets trouble, whichever message it is.
That is what a fault-injection run needs - thousands of messages, and a known share of
them answered 503, refused with a GGk code, held past the client's timeout, cut off
without an answer, answered slowly, or answered twice by the aanbieder.

Per request one draw picks at most one of the exclusive faults (their shares add up to
at most 1); a second, independent draw decides whether the aanbieder's retour goes out
twice. Faults come before the behaviour rule: a request refused by a fault (5xx, Fo03)
was not taken in and does not use up a rule's ``times``; a request taken in (timeout,
drop, slow) is then handled by the rule in force as usual.

| fault | the message | the client sees |
|---|---|---|
| ``error_5xx`` | not taken in | a plain SOAP fault with one of ``statuses`` |
| ``ggk_error`` | not taken in | a Fo03 with one of ``ggk_codes`` (IB103 retryable, others permanent) |
| ``timeout`` | taken in, retour follows | the answer after ``timeout_s`` (above the client's timeout) |
| ``drop`` | taken in, retour follows | the connection closed without an answer |
| ``slow`` | taken in, retour follows | a Bv03 after ``slow_s`` |
| ``duplicate_retour`` | taken in | the aanbieder's Du01 (same referentienummer) posted twice |
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.types import Receive

log = structlog.get_logger("mocks.ggk")

FaultKind = Literal["error_5xx", "ggk_error", "timeout", "drop", "slow"]
#: The exclusive faults, in the order their shares are laid out on [0, 1).
EXCLUSIVE: tuple[FaultKind, ...] = ("error_5xx", "ggk_error", "timeout", "drop", "slow")


class Faults(BaseModel):
    """``PUT /_mock/faults``: the shares (0..1) of requests that meet each fault."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Seed of the draws; ``None`` = a fresh random sequence.
    seed: int | None = None
    error_5xx: float = Field(0.0, ge=0, le=1)
    #: The statuses of ``error_5xx``, picked at random.
    statuses: list[int] = Field(default_factory=lambda: [500, 502, 503, 504], min_length=1)
    ggk_error: float = Field(0.0, ge=0, le=1)
    #: The Fo03 codes of ``ggk_error``, picked at random (IB103 = temporarily blocked, retryable).
    ggk_codes: list[str] = Field(default_factory=lambda: ["IB103"], min_length=1)
    timeout: float = Field(0.0, ge=0, le=1)
    #: How long a ``timeout`` holds its answer: more than the client waits.
    timeout_s: float = Field(5.0, ge=0, le=600)
    drop: float = Field(0.0, ge=0, le=1)
    slow: float = Field(0.0, ge=0, le=1)
    #: How long a ``slow`` answer takes: less than the client waits.
    slow_s: float = Field(0.5, ge=0, le=600)
    #: Independent of the others: the share of retours the aanbieder sends twice.
    duplicate_retour: float = Field(0.0, ge=0, le=1)
    #: Limit the faults to one receiver (AGB code or party); ``None`` = all traffic.
    agb: str | None = Field(default=None, pattern=r"^([0-9]{8}|SVB|CAK)$")

    @model_validator(mode="after")
    def _shares_fit(self) -> Faults:
        total = sum(getattr(self, kind) for kind in EXCLUSIVE)
        if total > 1.0 + 1e-9:
            raise ValueError(f"the shares of {', '.join(EXCLUSIVE)} add up to {total:.3f}, more than 1")
        for status in self.statuses:
            if not 500 <= status <= 599:
                raise ValueError(f"status {status} is not a 5xx")
        for code in self.ggk_codes:
            if not 1 <= len(code) <= 7:
                raise ValueError(f"ggk code {code[:10]!r} must be 1-7 characters")
        return self

    @property
    def active(self) -> bool:
        return any(getattr(self, kind) for kind in EXCLUSIVE) or self.duplicate_retour > 0


NO_FAULTS = Faults()


@dataclass(frozen=True, slots=True)
class Draw:
    """What one request meets. ``kind`` ``None`` = no exclusive fault."""

    kind: FaultKind | None = None
    status: int = 503
    ggk_code: str = "IB103"
    delay_s: float = 0.0
    duplicate_retour: bool = False

    @property
    def takes_in(self) -> bool:
        """Whether the GGk takes the message in (and its retour follows)."""
        return self.kind not in ("error_5xx", "ggk_error")


CLEAN = Draw()


class FaultInjector:
    """The faults in force, their seeded random source and what they did; thread-safe."""

    def __init__(self, faults: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self._faults = NO_FAULTS
        self._rng = random.Random()  # noqa: S311 - fault draws, not secrets
        self._injected: dict[str, int] = {}
        self._drawn = 0
        self.set(faults or NO_FAULTS)

    def set(self, faults: Faults) -> None:
        """Put ``faults`` in force (a seed restarts the random sequence); the counts are kept."""
        with self._lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)  # noqa: S311 - reproducible by design

    def heal(self) -> None:
        """No more faults; what was injected so far stays counted."""
        self.set(NO_FAULTS)

    def reset(self) -> None:
        with self._lock:
            self._faults = NO_FAULTS
            self._rng = random.Random()  # noqa: S311 - fault draws, not secrets
            self._injected = {}
            self._drawn = 0

    def draw(self, receiver: str) -> Draw:
        """The fault the next request to ``receiver`` meets, counted."""
        with self._lock:
            faults = self._faults
            if not faults.active or (faults.agb is not None and faults.agb != receiver):
                return CLEAN
            self._drawn += 1
            rng = self._rng
            point = rng.random()
            twice = rng.random() < faults.duplicate_retour
            kind: FaultKind | None = None
            edge = 0.0
            for candidate in EXCLUSIVE:
                edge += getattr(faults, candidate)
                if point < edge:
                    kind = candidate
                    break
            draw = Draw(
                kind=kind,
                status=rng.choice(faults.statuses),
                ggk_code=rng.choice(faults.ggk_codes),
                delay_s=faults.timeout_s if kind == "timeout" else faults.slow_s if kind == "slow" else 0.0,
                duplicate_retour=twice and kind not in ("error_5xx", "ggk_error"),
            )
            if kind is not None:
                self._injected[kind] = self._injected.get(kind, 0) + 1
            if draw.duplicate_retour:
                self._injected["duplicate_retour"] = self._injected.get("duplicate_retour", 0) + 1
            return draw

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "faults": self._faults.model_dump(),
                "drawn": self._drawn,
                "injected": {kind: self._injected.get(kind, 0) for kind in (*EXCLUSIVE, "duplicate_retour")},
            }


def drop_connection(receive: Receive) -> bool:
    """Close the client's connection without an answer; ``False`` if the server does not allow it.

    ASGI has no "hang up" message; uvicorn's ``receive`` is a method of the request cycle
    that owns the asyncio transport, so closing that transport is what a crashing GGk
    front end would do. Whatever the app answers afterwards is discarded.
    """
    owner = getattr(receive, "__self__", None)
    transport = getattr(owner, "transport", None)
    if transport is None or not hasattr(transport, "close"):
        return False
    transport.close()
    return True
