"""Chain parties other than aanbieders behind the mock GGk: the SVB and the CAK.

A party is a module with ``answer(h: Heenbericht, behaviour: Behaviour, *, now: datetime)
-> Answer | None`` (what it posts back after a gemeente's Di01) and optionally
``make_router(mock: MockGgk) -> APIRouter`` (admin endpoints under ``/_mock/<party>``).
Until a party's module exists the GGk refuses messages for it (IB210).
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Envelope ontvanger -> module implementing that party.
PARTY_MODULES: dict[str, str] = {"SVB": "mocks.ggk.svb", "CAK": "mocks.ggk.cak"}


def party(receiver: str) -> ModuleType | None:
    """The module of the non-aanbieder party ``receiver``, or None when there is none (yet)."""
    name = PARTY_MODULES.get(receiver)
    if name is None:
        return None
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise
