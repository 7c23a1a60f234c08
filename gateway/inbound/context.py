"""What an inbound-message handler gets, and what it decides.

Handlers apply the standard's rules to one heenbericht of an aanbieder and say which
RetourCodes go where; the dispatcher turns that into the retour (IV028/IV032) and
sends it. Handlers do not commit: the dispatcher's transaction keeps all or nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from connectors.istandaard import Law

#: The retour's answer for a class without remarks, and for one not looked at.
OK = "0200"
NOT_ASSESSED = "0233"
IN_MESSAGE_ERROR = "0001"


@dataclass(frozen=True, slots=True)
class InboundContext:
    inbound_id: int
    law: Law
    #: AGB code of the sending aanbieder (the payload's Afzender).
    aanbieder: str
    gemeentecode: str
    #: When the message arrived (aware, UTC).
    received_at: datetime
    #: The Dutch calendar date of arrival.
    today: date
    bericht_identificatie: str


@dataclass
class RetourDecision:
    """Codes per class path ("Header", "Client", "Client/StartProducten/StartProduct[1]" ...)."""

    header_codes: list[str] = field(default_factory=list)
    element_codes: dict[str, list[str]] = field(default_factory=dict)
    #: (event type, data) pairs for the back-office feed, recorded by the dispatcher.
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def ok(cls) -> RetourDecision:
        return cls()

    @classmethod
    def in_message_error(cls) -> RetourDecision:
        return cls(header_codes=[IN_MESSAGE_ERROR])

    def reject(self, path: str, code: str) -> RetourDecision:
        codes = self.element_codes.setdefault(path, [])
        if code not in codes:
            codes.append(code)
        return self

    @property
    def refused(self) -> bool:
        return bool(self.header_codes) or any(
            c not in (OK, NOT_ASSESSED) for codes in self.element_codes.values() for c in codes
        )


@dataclass
class CustomAnswer:
    """A handler's answer in a form of its own (a 325, a BAB retour ...), not the generic retour.

    ``render`` gets the answer's BerichtIdentificatie and dagtekening and returns the
    payload; ``codes`` are recorded on the inbound message for operators.
    """

    render: Callable[[str, date], bytes]
    codes: list[str]
    refused: bool
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
