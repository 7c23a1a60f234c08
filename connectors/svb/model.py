"""The data of the iPgb 1.0 messages (TKB, BAB and their retours), independent of XML.

Names, addresses and codes reuse the iWmo/iJw model where the meaning is the same;
codes are kept as the strings the messages carry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from connectors.istandaard.law import Law
from connectors.istandaard.model import Adres, Naam, Omvang
from connectors.svb.names import Budgethouder, Hulpverlener, Mutatie


@dataclass(frozen=True, slots=True)
class PgbHeader:
    law: Law
    #: Gemeentecode or ``SVB``, as the direction requires.
    afzender: str
    ontvanger: str
    identificatie: str
    dagtekening: date


@dataclass(frozen=True, slots=True)
class Vertegenwoordiger:
    """Manages the budget for the client (ouder, curator, bewindvoerder ...)."""

    naam: Naam
    relatie: str
    bsn: str | None = None
    adres: Adres | None = None


@dataclass(frozen=True, slots=True)
class PgbClient:
    bsn: str
    geboortedatum: date
    geslacht: str
    naam: Naam
    adres: Adres | None = None


@dataclass(frozen=True, slots=True)
class Toekenning:
    """One PGB budget; ``toewijzingnummer`` is the gemeente's reference for it at the SVB."""

    toewijzingnummer: int
    mutatie: Mutatie
    beschikkingnummer: str
    categorie: str
    code: str | None
    hulpverlener: Hulpverlener
    #: Eurocent for the whole period.
    budget: int
    begindatum: date
    einddatum: date
    toekenningsdatum: date
    omvang: Omvang | None = None
    reden_wijziging: str | None = None
    commentaar: str | None = None


@dataclass(frozen=True, slots=True)
class Toekenningsbericht:
    """TKB (458 Wmo / 460 Jw): gemeente -> SVB."""

    header: PgbHeader
    client: PgbClient
    toekenning: Toekenning
    vertegenwoordiger: Vertegenwoordiger | None = None

    @property
    def budgethouder(self) -> Budgethouder:
        return Budgethouder.CLIENT if self.vertegenwoordiger is None else Budgethouder.VERTEGENWOORDIGER


@dataclass(frozen=True, slots=True)
class ToekenningRetour:
    """TKB retour (459/461). Fully accepted = header only, no codes anywhere."""

    header: PgbHeader
    identificatie_retour: str
    dagtekening_retour: date
    header_codes: tuple[str, ...] = ()
    #: Present when the body is returned (some class carries a code).
    bsn: str | None = None
    toewijzingnummer: int | None = None
    mutatie: Mutatie | None = None
    budget: int | None = None
    client_codes: tuple[str, ...] = ()
    toekenning_codes: tuple[str, ...] = ()

    def all_codes(self) -> list[str]:
        codes: list[str] = []
        for code in (*self.header_codes, *self.client_codes, *self.toekenning_codes):
            if code not in codes:
                codes.append(code)
        return codes


@dataclass(frozen=True, slots=True)
class Budgetafsluiting:
    """The closing of one budget period: what was granted, spent and is left (eurocent)."""

    toewijzingnummer: int
    categorie: str
    code: str | None
    begindatum: date
    einddatum: date
    toegekend: int
    besteed: int
    resterend: int
    afsluitdatum: date

    @property
    def sluit(self) -> bool:
        """Whether the amounts add up (toegekend - besteed == resterend, never negative)."""
        return self.toegekend - self.besteed == self.resterend


@dataclass(frozen=True, slots=True)
class Budgetafsluitbericht:
    """BAB (464 Wmo / 466 Jw): SVB -> gemeente, per client."""

    header: PgbHeader
    bsn: str
    afsluitingen: tuple[Budgetafsluiting, ...]


@dataclass(frozen=True, slots=True)
class BudgetafsluitRetour:
    """BAB retour (465/467). Fully accepted = header only."""

    header: PgbHeader
    identificatie_retour: str
    dagtekening_retour: date
    header_codes: tuple[str, ...] = ()
    bsn: str | None = None
    client_codes: tuple[str, ...] = ()
    #: ToewijzingNummer -> the codes of that Budgetafsluiting.
    afsluiting_codes: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def all_codes(self) -> list[str]:
        codes: list[str] = []
        for group in (self.header_codes, self.client_codes, *self.afsluiting_codes.values()):
            for code in group:
                if code not in codes:
                    codes.append(code)
        return codes
