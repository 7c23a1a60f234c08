"""Data of the messages an aanbieder sends to the gemeente, and of our answers to them.

- 305 Start zorg / 307 Stop zorg (answered by 306/308 retours)
- 315 Verzoek om toewijzing (VOT) / 317 Verzoek om wijziging (VOW) (316/318 retours;
  then a 301 or a 319 Antwoordbericht)
- 323 Declaratie (answered by a 325 Declaratie-antwoord)

Both laws share these shapes (see :mod:`connectors.istandaard.law`). Codes stay the
standard's strings; money is in eurocent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from connectors.istandaard.model import BerichtHeader, Omvang, Product


@dataclass(frozen=True, slots=True)
class VerkorteNaam:
    achternaam: str
    voorvoegsel: str | None = None
    voornamen: str | None = None
    voorletters: str | None = None


@dataclass(frozen=True, slots=True)
class ClientKort:
    """The client as the aanbieder identifies it in 305/307/315 (CDT_VerkorteNaam)."""

    bsn: str
    geboortedatum: date
    geslacht: str
    naam: VerkorteNaam
    geboortedatum_gebruik: str | None = None


# --- 305 / 307 -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartProduct:
    begindatum: date
    #: WJ/COD StatusAanlevering: 1 eerste, 2 gewijzigd, 3 verwijderen.
    status_aanlevering: str
    toewijzingnummer: int | None = None
    product: Product | None = None
    toewijzing_ingangsdatum: date | None = None


@dataclass(frozen=True, slots=True)
class StartBericht:
    header: BerichtHeader
    client: ClientKort
    producten: tuple[StartProduct, ...]


@dataclass(frozen=True, slots=True)
class StopProduct:
    begindatum: date
    einddatum: date
    #: WJ588 RedenBeeindiging, e.g. 20 tijdelijk beeindigd, 31 volgens plan.
    reden_beeindiging: str
    status_aanlevering: str
    toewijzingnummer: int | None = None
    product: Product | None = None
    toewijzing_ingangsdatum: date | None = None


@dataclass(frozen=True, slots=True)
class StopBericht:
    header: BerichtHeader
    client: ClientKort
    producten: tuple[StopProduct, ...]


# --- 315 / 317 / 319 -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verwijzer:
    type: str
    naam: str | None = None
    zorgverlener_code: str | None = None


@dataclass(frozen=True, slots=True)
class AangevraagdProduct:
    referentie_aanbieder: str
    toewijzing_ingangsdatum: date
    verwijzer: Verwijzer
    beschikkingnummer: int | None = None
    product: Product | None = None
    beschikking_ingangsdatum: date | None = None
    toewijzing_einddatum: date | None = None
    omvang: Omvang | None = None
    budget: int | None = None
    raamcontract: str | None = None
    commentaar: str | None = None


@dataclass(frozen=True, slots=True)
class VerzoekOmToewijzing:
    """JW315/WMO315. ``gezagsdrager_bekend`` exists in iJw only."""

    header: BerichtHeader
    client: ClientKort
    producten: tuple[AangevraagdProduct, ...]
    gezagsdrager_bekend: str | None = None
    commentaar: str | None = None


@dataclass(frozen=True, slots=True)
class TeWijzigenProduct:
    toewijzingnummer: int
    gewenste_ingangsdatum: date
    einddatum: date | None = None
    omvang: Omvang | None = None
    budget: int | None = None


@dataclass(frozen=True, slots=True)
class NieuwProduct:
    gewenste_ingangsdatum: date
    product: Product | None = None
    einddatum: date | None = None
    omvang: Omvang | None = None
    budget: int | None = None


@dataclass(frozen=True, slots=True)
class VerzoekOmWijziging:
    """JW317/WMO317: the aanbieder's wish for the client's whole set of toewijzingen."""

    header: BerichtHeader
    bsn: str
    referentie_aanbieder: str
    #: 1 verandering clientsituatie, 2 wijziging zorgplan.
    reden_verzoek: str
    ongewijzigd: tuple[int, ...] = ()
    te_wijzigen: tuple[TeWijzigenProduct, ...] = ()
    nieuw: tuple[NieuwProduct, ...] = ()


@dataclass(frozen=True, slots=True)
class Antwoordbericht:
    """JW319/WMO319: a request is rejected (1) or in onderzoek (2).

    ``woonplaatsbeginsel_gemeente`` exists in iJw only.
    """

    header: BerichtHeader
    referentie_aanbieder: str
    verzoek_antwoord: str
    reden_afwijzing: str | None = None
    woonplaatsbeginsel_gemeente: str | None = None


# --- 323 / 325 -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BedragMetDC:
    #: Eurocent.
    bedrag: int
    #: "D" debet, "C" credit.
    debet_credit: str = "D"

    @property
    def signed(self) -> int:
        return -self.bedrag if self.debet_credit == "C" else self.bedrag


@dataclass(frozen=True, slots=True)
class Prestatie:
    referentienummer: str
    toewijzingnummer: int
    categorie: str
    productcode: str
    periode_begin: date
    periode_eind: date
    geleverd_volume: int
    eenheid: str
    ingediend_bedrag: BedragMetDC
    #: Eurocent per eenheid (for hours: per hour, while the volume is in minutes, IV081).
    product_tarief: int | None = None
    vorig_referentienummer: str | None = None


@dataclass(frozen=True, slots=True)
class DeclaratieClient:
    bsn: str
    prestaties: tuple[Prestatie, ...]


@dataclass(frozen=True, slots=True)
class Declaratie:
    """JW323/WMO323: one aanbieder's invoice for one calendar month."""

    header: BerichtHeader
    declaratienummer: str
    periode_begin: date
    periode_eind: date
    dagtekening: date
    totaal_ingediend: BedragMetDC
    clienten: tuple[DeclaratieClient, ...]


@dataclass(frozen=True, slots=True)
class DeclaratieAntwoord:
    """JW325/WMO325: what the gemeente grants of a declaratie.

    Fully approved: header code 8001 and no per-prestatie detail; otherwise
    ``prestatie_codes`` per referentienummer, with "0200" for accepted ones (see
    :mod:`connectors.istandaard.declaratie` for where each code goes).
    """

    header: BerichtHeader
    declaratie_identificatie: str
    declaratie_dagtekening: date
    declaratienummer: str
    totaal_ingediend: BedragMetDC
    totaal_toegekend: BedragMetDC
    header_codes: tuple[str, ...] = ()
    declaratie_codes: tuple[str, ...] = ()
    prestatie_codes: dict[str, tuple[str, ...]] = field(default_factory=dict)


# --- generic retour (306/308/316/318/320) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetourSamenvatting:
    """What a retour says, read generically: header codes, and codes per element path.

    ``element_codes`` maps an element path like ``Client/StartProducten/StartProduct[1]``
    to its RetourCodes.
    """

    header: BerichtHeader
    number: int
    identificatie_retour: str
    dagtekening_retour: date
    header_codes: tuple[str, ...]
    element_codes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def all_codes(self) -> tuple[str, ...]:
        seen: dict[str, None] = dict.fromkeys(self.header_codes)
        for codes in self.element_codes.values():
            seen.update(dict.fromkeys(codes))
        return tuple(seen)
