"""The error codes of the GGk chain and the one exception the GGk connector raises.

The codes come from the ISD-keten error list (IB = Inlichtingenbureau/GGk, RIN =
RINIS, StUF = the StUF standard). What the delivery engine needs from them is one
bit: may the same message be offered again later (``retryable``), or must a person
look at it. Only a temporary block (IB103) is retryable; every other code describes
something about the message itself, which a re-send would repeat.

Exceptions::

    ValueError
     └── EnvelopeError   (code, plek, omschrijving) - an envelope or SOAP message is refused
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Plek = Literal["client", "server"]

_BSN_LIKE = re.compile(r"(?<!\d)\d{5}(\d{4})(?!\d)")


def mask_bsn_like(text: str) -> str:
    """Replace every free-standing 9-digit number by ``*****dddd``.

    Error texts quote values from untrusted documents; a value in a BSN position (or a
    misplaced one) must never reach a log line or a fault string.
    """
    return _BSN_LIKE.sub(lambda m: "*****" + m.group(1), text)


@dataclass(frozen=True, slots=True)
class GgkError:
    """One code from the chain's error list."""

    code: str
    omschrijving: str
    retryable: bool
    #: StUF ``Foutplek``: ``client`` when the sender must fix something, ``server`` otherwise.
    plek: Plek = "client"


_ERRORS = (
    GgkError("IB002", "Organisatie is niet geautoriseerd", False),
    GgkError("IB003", "Bericht is te groot", False),
    GgkError("IB005", "Gemeentecode onbekend", False),
    GgkError("IB007", "Bericht is te groot", False),
    GgkError("IB009", "Opgegeven (cross)referentienummer is geen geldig UUID", False),
    GgkError("IB016", "Referentienummer is niet uniek", False),
    GgkError("IB101", "Geen geldige CPA bekend voor combinatie organisatie en berichttype", False, "server"),
    GgkError("IB102", "Geen routering bekend voor combinatie organisatie en berichttype", False, "server"),
    GgkError("IB103", "Aangeboden berichttype tijdelijk geblokkeerd", True, "server"),
    GgkError("IB210", "Ontvangende organisatie onbekend", False),
    GgkError("IB213", "Zendende organisatie onbekend", False),
    GgkError("IB216", "Combinatie zender en referentienummer niet uniek", False),
    GgkError("IB234", "Combinatie functie en organisatie is niet toegestaan", False),
    GgkError("IB240", "Combinatie berichtcode en functie is niet toegestaan", False),
    GgkError("IB798", "Ontvangen StUF versie wijkt af van geconfigureerde versie", False),
    GgkError("RIN001", "De StUF-berichtenvelop voldoet niet aan de XSD", False),
    GgkError("StUF016", "Combinatie zender en referentienummer is niet uniek", False),
    GgkError("StUF055", "Berichtbody is niet conform schema in sectormodel", False),
)

#: Every known code, by code.
GGK_ERRORS: dict[str, GgkError] = {e.code: e for e in _ERRORS}


def is_retryable(code: str | None) -> bool:
    """True only for codes that say "offer it again later"; unknown codes are permanent."""
    error = GGK_ERRORS.get(code or "")
    return error.retryable if error else False


class EnvelopeError(ValueError):
    """An envelope or SOAP message is refused, with the chain's code for the reason.

    ``omschrijving`` is safe to log and to return in a fault: 9-digit numbers in it are
    masked.
    """

    def __init__(self, code: str, plek: Plek, omschrijving: str) -> None:
        self.code = code
        self.plek: Plek = plek
        self.omschrijving = mask_bsn_like(omschrijving)[:200]
        super().__init__(f"{code}: {self.omschrijving}")

    @classmethod
    def of(cls, code: str, detail: str | None = None) -> EnvelopeError:
        """Build the error for a known ``code``, its standard text followed by ``detail``."""
        known = GGK_ERRORS.get(code)
        text = known.omschrijving if known else code
        plek: Plek = known.plek if known else "client"
        return cls(code, plek, f"{text}: {detail}" if detail else text)
