"""Documents from templates: rendered once with marker values, then filled per message.

Between two messages of one kind to one party only a few values change (a fresh
referentienummer, a timestamp, a payload). Building and validating the whole tree each
time costs far more than the message needs, so a caller renders and validates one
document with marker values in those places, cuts it at the markers, and fills the cuts
per message. The caller must only fill in values whose form the template's schema check
covers (and that need no escaping); anything else goes to its real builder. Used by the
GGk envelopes (:mod:`connectors.ggk.soap`) and the mock GGk's receipts (``mocks.ggk``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence

#: Templates kept per cache: a gateway has a handful of parties, a fuzz run may have many.
MAX_TEMPLATES = 256


class MarkedTemplate:
    """A rendered document cut at its markers: ``pieces[0] + v[order[0]] + pieces[1] + ...``."""

    __slots__ = ("order", "pieces")

    def __init__(self, pieces: tuple[bytes, ...], order: tuple[int, ...]) -> None:
        self.pieces = pieces
        self.order = order

    @classmethod
    def cut(cls, rendered: bytes, marks: Sequence[tuple[bytes, bytes, bytes]]) -> MarkedTemplate | None:
        """``rendered`` cut at each ``(before, mark, after)``; None unless each occurs exactly once.

        ``before`` and ``after`` anchor a mark (``>``/``<`` for element text, ``="``/``"``
        for an attribute) and stay in the template; the ``i``-th mark is filled by ``values[i]``.
        """
        needles = [before + mark + after for before, mark, after in marks]
        if any(rendered.count(needle) != 1 for needle in needles):
            return None  # a party whose own fields hold a marker: built each time instead
        found = sorted((rendered.index(needle), index) for index, needle in enumerate(needles))
        pieces: list[bytes] = []
        start = 0
        for position, index in found:
            before, mark, _ = marks[index]
            pieces.append(rendered[start : position + len(before)])
            start = position + len(before) + len(mark)
        pieces.append(rendered[start:])
        return cls(tuple(pieces), tuple(index for _, index in found))

    @classmethod
    def cut_texts(cls, rendered: bytes, marks: Sequence[bytes]) -> MarkedTemplate | None:
        """:meth:`cut` for marks that are each the whole text of an element."""
        return cls.cut(rendered, [(b">", mark, b"<") for mark in marks])

    def fill(self, values: Sequence[bytes]) -> bytes:
        out = [self.pieces[0]]
        for index, piece in zip(self.order, self.pieces[1:], strict=True):
            out.append(values[index])
            out.append(piece)
        return b"".join(out)


class TemplateCache:
    """Templates by key, made on first use (None = cannot be made: build each time); thread-safe."""

    def __init__(self, limit: int = MAX_TEMPLATES) -> None:
        self._lock = threading.Lock()
        self._limit = limit
        self._templates: dict[Hashable, MarkedTemplate | None] = {}

    def made(self) -> int:
        """How many templates are in use (keys whose template could be made): for diagnostics."""
        with self._lock:
            return sum(1 for template in self._templates.values() if template is not None)

    def get(self, key: Hashable, make: Callable[[], MarkedTemplate | None]) -> MarkedTemplate | None:
        with self._lock:
            if key in self._templates:
                return self._templates[key]
        template = make()  # outside the lock: rendering and validating take a while
        with self._lock:
            if len(self._templates) >= self._limit:
                self._templates.clear()
            self._templates[key] = template
        return template
