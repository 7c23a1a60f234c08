"""How the mock GGk and its aanbieders answer: rules set per test, over HTTP or in code.

A rule applies to one aanbieder (``agb``) or to all; a rule for one aanbieder wins over
a rule for all. A rule with ``times`` applies to the next N messages it matches and then
disappears, so what was configured before applies again; a rule without ``times`` stays
until replaced or reset. With no rule at all every message is accepted.
"""

from __future__ import annotations

import threading
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["accept", "reject", "fail", "timeout", "ggk_error", "no_retour"]


class Behaviour(BaseModel):
    """One rule. See ``mocks/ggk/README.md`` for what each mode does."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode = "accept"
    agb: str | None = Field(default=None, pattern=r"^([0-9]{8}|SVB|CAK)$")  # an aanbieder, or a party
    times: int | None = Field(default=None, ge=1)
    #: For ``reject``: the RetourCodes of the failing level (default 0001 header, 9332 product).
    retourcodes: list[str] = Field(default_factory=list)
    level: Literal["header", "product"] = "header"
    #: For ``fail``: the HTTP status of the SOAP fault.
    status: int = Field(default=503, ge=400, le=599)
    #: For ``ggk_error``: the code of the Fo03.
    ggk_code: str = Field(default="IB103", max_length=7)
    #: For ``timeout``: how long to hold the accepted request before answering.
    delay_s: float = Field(default=5.0, ge=0, le=600)

    def retour_codes(self) -> list[str]:
        if self.retourcodes:
            return list(self.retourcodes)
        return ["0001"] if self.level == "header" else ["9332"]


ACCEPT = Behaviour()


class _Rule:
    __slots__ = ("behaviour", "remaining")

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.remaining = behaviour.times


class RuleBook:
    """The current rules; safe to use from the server's event loop and a test's thread."""

    def __init__(self, initial: list[Behaviour] | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        for behaviour in initial or ():
            self.set(behaviour)

    def set(self, behaviour: Behaviour) -> None:
        """Add a rule; a lasting rule replaces the lasting rule of the same scope."""
        with self._lock:
            if behaviour.times is None:
                self._rules = [
                    r for r in self._rules if r.remaining is not None or r.behaviour.agb != behaviour.agb
                ]
            self._rules.append(_Rule(behaviour))

    def reset(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, agb: str) -> Behaviour:
        """The rule for the next message to ``agb``, counting it against ``times``."""
        with self._lock:
            rule = self._find(agb)
            if rule is None:
                return ACCEPT
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._rules.remove(rule)
            return rule.behaviour

    def current(self) -> list[Behaviour]:
        with self._lock:
            return [r.behaviour for r in self._rules]

    def _find(self, agb: str) -> _Rule | None:
        for scope in (agb, None):
            for rule in reversed(self._rules):
                if rule.behaviour.agb == scope:
                    return rule
        return None
