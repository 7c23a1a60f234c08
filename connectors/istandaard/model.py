"""The data of the iJw/iWmo 3.2 toewijzing messages, independent of XML.

One model serves both laws: iJw and iWmo 3.2 differ only in namespaces, BerichtCodes
and a few code lists, which :mod:`connectors.istandaard.law` holds.
Codes are kept as the strings the standard uses ("04", "2", "0200"): they are
identifiers, not numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

from connectors.istandaard.law import Law


@dataclass(frozen=True, slots=True)
class Naam:
    achternaam: str
    voorvoegsel: str | None = None
    voornamen: str | None = None
    voorletters: str | None = None
    #: COD700 NaamGebruik: 1 = eigen geslachtsnaam.
    naamgebruik: str = "1"
    partner_achternaam: str | None = None
    partner_voorvoegsel: str | None = None


@dataclass(frozen=True, slots=True)
class Adres:
    huisnummer: int | None
    postcode: str | None
    straatnaam: str | None
    plaatsnaam: str
    huisletter: str | None = None
    huisnummer_toevoeging: str | None = None
    landcode: str = "NL"
    #: COD ``AanduidingWoonadres``: AB (aan boord), BY (bij), TO (tegenover), WW (woonwagen).
    aanduiding_woonadres: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    #: COD757 AdresSoort: 01 BRP-adres, 02 correspondentieadres, 03 verblijfadres, 04 tijdelijk.
    soort: str
    adres: Adres | None = None
    telefoon: str | None = None
    emailadres: str | None = None
    organisatie: str | None = None
    #: Landnummer of ``telefoon`` (the standard requires one with every number).
    telefoon_landnummer: str = "0031"
    telefoon2: str | None = None
    telefoon2_landnummer: str = "0031"
    #: Begin/end of a stay at a temporary address (CDT_OpenPeriode).
    periode_begindatum: date | None = None
    periode_einddatum: date | None = None


@dataclass(frozen=True, slots=True)
class Relatie:
    """A relation of the client (parent, guardian, contact person) as the 301 carries it."""

    #: LDT_Persoonsid: an identifier the gemeente chooses, unique within the message.
    nummer: str
    #: ``SoortRelatie`` code (03 curator, 04 financieel gemachtigd, ...).
    soort: str
    naam: Naam
    contact: Contact
    volgorde: int | None = None
    geboortedatum: date | None = None
    geboortedatum_gebruik: str | None = None
    geslacht: str | None = None


@dataclass(frozen=True, slots=True)
class Client:
    bsn: str
    geboortedatum: date
    #: COD046 Geslacht: 0 onbekend, 1 man, 2 vrouw, 9 niet gespecificeerd.
    geslacht: str
    naam: Naam
    contacten: tuple[Contact, ...]
    #: Indicates a date of which only the year (or year and month) is known; COD170 DatumGebruik.
    geboortedatum_gebruik: str | None = None
    juridische_status: str | None = None
    wettelijke_vertegenwoordiging: str | None = None
    commentaar: str | None = None
    #: ``Communicatievorm`` (1 tolk taal, 2 doventolk, 3 doofblindentolk) and the language, if any.
    communicatie_vorm: str | None = None
    communicatie_taal: str | None = None
    relaties: tuple[Relatie, ...] = ()


@dataclass(frozen=True, slots=True)
class Omvang:
    volume: int
    #: WJ756 Eenheid: 01 minuut, 04 uur, 14 etmaal, 16 dagdeel, 82/84 stuks, 83 euro ...
    eenheid: str
    #: WJ757 Frequentie: 1 per dag, 2 per week, 4 per maand, 6 totaal binnen geldigheidsduur.
    frequentie: str


@dataclass(frozen=True, slots=True)
class Product:
    categorie: str
    code: str | None = None


@dataclass(frozen=True, slots=True)
class ToegewezenProduct:
    toewijzingnummer: int
    toewijzingsdatum: date
    toewijzingstijd: time
    ingangsdatum: date
    product: Product | None = None
    einddatum: date | None = None
    reden_wijziging: str | None = None
    omvang: Omvang | None = None
    #: Eurocent.
    budget: int | None = None
    referentie_aanbieder: str | None = None
    commentaar: str | None = None


@dataclass(frozen=True, slots=True)
class BerichtHeader:
    law: Law
    #: The sender: the CBS gemeentecode (4 digits) in gemeente -> aanbieder messages (301, 319,
    #: 325); the aanbieder's AGB code in aanbieder -> gemeente messages (305, 307, 315, 317, 323).
    afzender: str
    #: The receiver: the aanbieder's AGB code (8 digits) in gemeente -> aanbieder messages; the
    #: CBS gemeentecode in aanbieder -> gemeente messages (roles reversed, names kept). A retour
    #: copies its heenbericht's Afzender and Ontvanger unchanged.
    ontvanger: str
    #: At most 12 characters, unique per afzender.
    identificatie: str
    dagtekening: date
    #: CDT_XsdVersie of the message; a retour copies the heenbericht's unchanged.
    basisschema_xsd_versie: str = "1.0.0"
    bericht_xsd_versie: str = "1.0.0"


@dataclass(frozen=True, slots=True)
class Toewijzingsbericht:
    """A JW301/WMO301: all current toewijzingen of one client at one aanbieder (OP087)."""

    header: BerichtHeader
    client: Client
    producten: tuple[ToegewezenProduct, ...]


@dataclass(frozen=True, slots=True)
class ToewijzingRetour:
    """A JW302/WMO302 as far as the gemeente needs it.

    ``header_codes`` holds the header's RetourCodes (empty when the message was fully
    accepted); ``client_codes`` the client level's; ``product_codes`` the codes per
    ToewijzingNummer. A code "0200" means that part was accepted.
    """

    header: BerichtHeader
    identificatie_retour: str
    dagtekening_retour: date
    header_codes: tuple[str, ...] = ()
    client_codes: tuple[str, ...] = ()
    product_codes: dict[int, tuple[str, ...]] = field(default_factory=dict)
    bsn: str | None = None
    #: Codes of each Contactgegevens/Contact, in document order.
    contact_codes: tuple[tuple[str, ...], ...] = ()
    #: Codes of each Relatie (including its Contact), by Relatie Nummer.
    relatie_codes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def all_codes(self) -> tuple[str, ...]:
        """Every code in the retour, header first, without duplicates, in order seen."""
        seen: dict[str, None] = dict.fromkeys(self.header_codes)
        seen.update(dict.fromkeys(self.client_codes))
        for codes in (*self.contact_codes, *self.relatie_codes.values(), *self.product_codes.values()):
            seen.update(dict.fromkeys(codes))
        return tuple(seen)
