"""The typed error of the StUF layer: carries the StUF foutcode to answer with."""

from __future__ import annotations

from connectors.corv.model import STUF_XSD_ERROR, Fout, Stuurgegevens


class StufError(ValueError):
    """A StUF message is refused; ``code`` is the StUF foutcode (``StUF055`` for an XSD
    error, ``StUF016`` for a duplicate), ``omschrijving`` a precise reason (never holds
    a BSN: XSD messages name the element, values are cut off)."""

    def __init__(self, omschrijving: str, *, code: str = STUF_XSD_ERROR, details: str | None = None) -> None:
        self.code = code
        self.omschrijving = omschrijving[:200]
        self.details = details[:1000] if details else None
        #: Best effort: the refused message's stuurgegevens when they could be read (to
        #: address the Fo03), else None.
        self.stuurgegevens: Stuurgegevens | None = None
        super().__init__(f"{code}: {omschrijving}")

    def fout(self, plek: str = "client") -> Fout:
        """This error as the body of a Fo01/Fo03."""
        return Fout(code=self.code, omschrijving=self.omschrijving, plek=plek, details=self.details)
