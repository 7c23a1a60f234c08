"""What the mock aanbieders sent to the gemeente, and what the gemeente answered them.

Tests of the gateway's inbound side send a heenbericht through the mock (a 305, a 323
...) and then want to see the answer exactly as the aanbieder sees it: the retour's
header codes and the codes per class path (306/308/316/318), the 325's totals and
prestatie codes, or the asynchronous Fo01 that refused the payload. Answers are keyed
by crossRefnummer - the referentienummer of the Di01 they answer - so a test looks up
the answer to the message it sent. Also recorded: the 319 Antwoordberichten the
gemeente sends to a mock aanbieder.

Only codes, paths, identifiers and totals are kept, never a payload, so no listing here
can contain a BSN; a reason why a payload could not be read is masked.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from connectors.ggk import Fo01, Heenbericht, Retourbericht, mask_bsn_like
from connectors.istandaard import PayloadRejected, identify, parse_declaratie_antwoord, parse_retour
from connectors.istandaard.model_inbound import Antwoordbericht, BedragMetDC, DeclaratieAntwoord
from connectors.istandaard.retour import RETOUR_OF

_RETOUREN = frozenset(RETOUR_OF.values())
DECLARATIE_ANTWOORD = 325


@dataclass(slots=True)
class Sent:
    """One heenbericht a mock aanbieder posted (a re-send with the same referentienummer counts up)."""

    referentienummer: str
    agb: str
    gemeentecode: str
    functie: str
    bericht_identificatie: str | None
    times_sent: int = 1
    status_code: int | None = None
    answer: str | None = None
    code: str | None = None


@dataclass(slots=True)
class ReceivedAnswer:
    """A Du01 or Fo01 from the gemeente, by the referentienummer of the message it answers."""

    cross_refnummer: str
    operation: str
    referentienummer: str
    functie: str | None
    zender: str
    ontvanger: str
    received_at: str
    content: dict[str, Any]
    cross_refnummer_bericht: str | None = None
    #: How many answers arrived for this crossRefnummer (more than one is a gateway bug).
    answers: int = 1
    heen: dict[str, Any] | None = field(default=None)


def summarise_payload(payload: bytes) -> dict[str, Any]:
    """The BSN-free content of a retour (306/308/316/318/320) or 325, or why it cannot be read."""
    try:
        law, number = identify(payload)
        if number == DECLARATIE_ANTWOORD:
            return _declaratie_antwoord(parse_declaratie_antwoord(payload))
        if number not in _RETOUREN:
            raise PayloadRejected(f"a {law.function_name(number)} is not an answer to an aanbieder")
        retour = parse_retour(payload)
    except PayloadRejected as exc:
        return {"kind": "unreadable", "error": mask_bsn_like(str(exc))[:300]}
    return {
        "kind": "retour",
        "law": retour.header.law.value,
        "number": retour.number,
        "bericht_identificatie": retour.header.identificatie,
        "identificatie_retour": retour.identificatie_retour,
        "dagtekening_retour": retour.dagtekening_retour.isoformat(),
        "header_codes": list(retour.header_codes),
        "element_codes": {path: list(codes) for path, codes in retour.element_codes.items()},
    }


def _declaratie_antwoord(a: DeclaratieAntwoord) -> dict[str, Any]:
    return {
        "kind": "declaratie_antwoord",
        "law": a.header.law.value,
        "number": DECLARATIE_ANTWOORD,
        "bericht_identificatie": a.header.identificatie,
        "declaratie_identificatie": a.declaratie_identificatie,
        "declaratienummer": a.declaratienummer,
        "header_codes": list(a.header_codes),
        "declaratie_codes": list(a.declaratie_codes),
        "totaal_ingediend": _bedrag(a.totaal_ingediend),
        "totaal_toegekend": _bedrag(a.totaal_toegekend),
        "prestatie_codes": {ref: list(codes) for ref, codes in a.prestatie_codes.items()},
    }


def _bedrag(b: BedragMetDC) -> dict[str, Any]:
    return {"bedrag": b.bedrag, "debet_credit": b.debet_credit}


class AanbiederLog:
    """Thread-safe record of sent heenberichten, answers received, and 319s received."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: dict[str, Sent] = {}
        self._answers: dict[str, ReceivedAnswer] = {}
        self._antwoorden: list[dict[str, Any]] = []

    def reset(self) -> None:
        with self._lock:
            self._sent.clear()
            self._answers.clear()
            self._antwoorden.clear()

    # --- what the mock sent -------------------------------------------------------------------

    def sent(self, record: Sent) -> None:
        with self._lock:
            earlier = self._sent.get(record.referentienummer)
            if earlier is not None:
                record.times_sent = earlier.times_sent + 1
            self._sent[record.referentienummer] = record

    def sent_result(
        self, referentienummer: str, *, status_code: int | None, answer: str, code: str | None
    ) -> None:
        """The gateway's synchronous answer to the latest send with ``referentienummer``."""
        with self._lock:
            record = self._sent.get(referentienummer)
            if record is not None:
                record.status_code, record.answer, record.code = status_code, answer, code

    def sent_listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(s) for s in self._sent.values()]

    # --- what the gemeente answered -------------------------------------------------------------

    def record_du01(self, du01: Retourbericht, *, now: datetime) -> None:
        """Record a Du01's retour; parsing happens here, so call it off the event loop."""
        self._record(
            ReceivedAnswer(
                cross_refnummer=du01.cross_refnummer,
                operation="ggk_Du01",
                referentienummer=du01.referentienummer,
                functie=du01.functie,
                zender=du01.zender.organisatie,
                ontvanger=du01.ontvanger.organisatie,
                received_at=now.isoformat(timespec="seconds"),
                content=summarise_payload(du01.payload),
                cross_refnummer_bericht=du01.cross_refnummer_bericht,
            )
        )

    def record_fo01(self, fo01: Fo01, *, now: datetime) -> None:
        self._record(
            ReceivedAnswer(
                cross_refnummer=fo01.cross_ref,
                operation="Fo01",
                referentienummer=fo01.referentienummer,
                functie=None,
                zender=fo01.zender.organisatie,
                ontvanger=fo01.ontvanger.organisatie,
                received_at=now.isoformat(timespec="seconds"),
                content={
                    "kind": "fo01",
                    "code": fo01.code,
                    "plek": fo01.plek,
                    "omschrijving": mask_bsn_like(fo01.omschrijving),
                    "details": None if fo01.details is None else mask_bsn_like(fo01.details),
                },
            )
        )

    def _record(self, answer: ReceivedAnswer) -> None:
        with self._lock:
            earlier = self._answers.get(answer.cross_refnummer)
            if earlier is not None:  # keep the first answer, count the rest
                earlier.answers += 1
                return
            sent = self._sent.get(answer.cross_refnummer)
            if sent is not None:
                answer.heen = {"functie": sent.functie, "bericht_identificatie": sent.bericht_identificatie}
            self._answers[answer.cross_refnummer] = answer

    def answers(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(a) for a in self._answers.values()]

    def answer_to(self, referentienummer: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._answers.get(referentienummer)
            return None if found is None else asdict(found)

    # --- 319s from the gemeente -----------------------------------------------------------------

    def record_antwoord(self, h: Heenbericht, antwoord: Antwoordbericht) -> None:
        with self._lock:
            self._antwoorden.append(
                {
                    "referentienummer": h.referentienummer,
                    "functie": h.functie,
                    "aanbieder": h.ontvanger.organisatie,
                    "gemeente": h.zender.organisatie,
                    "law": antwoord.header.law.value,
                    "bericht_identificatie": antwoord.header.identificatie,
                    "referentie_aanbieder": antwoord.referentie_aanbieder,
                    "verzoek_antwoord": antwoord.verzoek_antwoord,
                    "reden_afwijzing": antwoord.reden_afwijzing,
                    "woonplaatsbeginsel_gemeente": antwoord.woonplaatsbeginsel_gemeente,
                }
            )

    def antwoorden(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(a) for a in self._antwoorden]
