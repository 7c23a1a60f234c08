"""The data of the iEb messages between the gemeente and the CAK (project's own model).

- WMO405 start/stop eigen bijdrage and WMO407 start/stop beschermd wonen (gemeente -> CAK):
  one person, one event (start or stop) with its date, and a summary of the provisions
  that cause it;
- WMO406 / WMO408: the CAK's retours; codes other than 0200/0233 are an *uitnodiging tot
  herstel* (invitation to correct) and the gemeente resubmits a corrected message that
  names the original in ``HerstelVan``.

The official iEb XSDs and BerichtCodes are not public: the numbers 905-908 and the
retourcodes ``H0nn`` below are the project's, chosen to be visibly not official.
Money is in eurocent, dates are calendar dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from connectors.istandaard.model_inbound import ClientKort, VerkorteNaam


class Regeling(StrEnum):
    """Which CAK arrangement a message is about: the eigen bijdrage (405) or beschermd wonen (407)."""

    EIGEN_BIJDRAGE = "eigen_bijdrage"
    BESCHERMD_WONEN = "beschermd_wonen"

    @property
    def heen_number(self) -> int:
        return 405 if self is Regeling.EIGEN_BIJDRAGE else 407

    @property
    def retour_number(self) -> int:
        return self.heen_number + 1

    @property
    def functie(self) -> str:
        """The GGk envelope functie of the heenbericht: ``WMO405`` / ``WMO407``."""
        return f"WMO{self.heen_number}"

    @property
    def retour_functie(self) -> str:
        return f"WMO{self.retour_number}"


class Soort(StrEnum):
    """LDT_SoortMelding: 1 start, 2 stop."""

    START = "1"
    STOP = "2"


#: The project's BerichtCodes (official iEb codes unknown here): message number -> code.
BERICHT_CODES: dict[int, str] = {405: "905", 406: "906", 407: "907", 408: "908"}

#: RetourCodes: the iWmo meanings of 0001/0200/0233 plus the project's herstel codes.
ACCEPTED = "0200"
NOT_ASSESSED = "0233"
RETOURCODES: dict[str, str] = {
    "0001": "Bericht is afgekeurd om inhoudelijke redenen",
    ACCEPTED: "Geaccepteerd",
    NOT_ASSESSED: "Niet beoordeeld (door een andere fout)",
    "H001": "Datum van de start of stop is onjuist",
    "H002": "Kostprijs ontbreekt of is onjuist",
    "H003": "Voorziening is onbekend of niet bijdrageplichtig",
    "H004": "Stop zonder lopende start, of start terwijl er al een loopt",
}


@dataclass(frozen=True, slots=True)
class BerichtRef:
    """A BerichtIdentificatie: the sender's id of a message and its dagtekening."""

    identificatie: str
    dagtekening: date


@dataclass(frozen=True, slots=True)
class Voorziening:
    """One chargeable provision behind the event, summarised for the CAK."""

    toewijzingnummer: int
    beschikkingnummer: str
    categorie: str
    code: str | None
    #: ``ZIN`` or ``PGB``.
    leveringsvorm: str
    ingangsdatum: date
    einddatum: date | None = None
    #: Eurocent; only for hulpmiddelen and woonvoorzieningen, never in a WMO407.
    kostprijs: int | None = None


@dataclass(frozen=True, slots=True)
class Melding:
    """A WMO405 or WMO407: one person's start or stop."""

    regeling: Regeling
    afzender: str
    bericht: BerichtRef
    client: ClientKort
    soort: Soort
    datum: date
    voorzieningen: tuple[Voorziening, ...]
    #: The message this one corrects after an uitnodiging tot herstel.
    herstel_van: BerichtRef | None = None


@dataclass(frozen=True, slots=True)
class MeldingRetour:
    """A WMO406 or WMO408: the heenbericht as the CAK read it, with its RetourCodes."""

    melding: Melding
    identificatie_retour: str
    dagtekening_retour: date
    header_codes: tuple[str, ...] = ()
    client_codes: tuple[str, ...] = ()
    melding_codes: tuple[str, ...] = ()
    #: ToewijzingNummer -> codes of that Voorziening.
    voorziening_codes: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def all_codes(self) -> tuple[str, ...]:
        """Every distinct code, header first, in document order."""
        seen: list[str] = []
        groups = [self.header_codes, self.client_codes, self.melding_codes, *self.voorziening_codes.values()]
        for group in groups:
            seen.extend(c for c in group if c not in seen)
        return tuple(seen)

    def herstel_codes(self) -> tuple[str, ...]:
        """The codes that ask for a correction (all but 0200 and 0233)."""
        return tuple(c for c in self.all_codes() if c not in (ACCEPTED, NOT_ASSESSED))


__all__ = [
    "ACCEPTED",
    "BERICHT_CODES",
    "NOT_ASSESSED",
    "RETOURCODES",
    "BerichtRef",
    "ClientKort",
    "Melding",
    "MeldingRetour",
    "Regeling",
    "Soort",
    "VerkorteNaam",
    "Voorziening",
]
