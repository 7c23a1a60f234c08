"""The JSON shape of a beschikking as the back-office posts it, and the answer.

Field names follow the iStandaarden's Dutch terms so that a municipal developer finds
them in the standard's documentation. Structural checks live here; the rules that
need the law or several fields at once live in :mod:`gateway.intake`.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from connectors.istandaard import Law
from gateway.api.xml_safe import XmlSafeModel

Digits4 = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
Agb = Annotated[str, StringConstraints(pattern=r"^[0-9]{8}$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class Strict(XmlSafeModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Leveringsvorm(StrEnum):
    ZIN = "ZIN"
    PGB = "PGB"


class Naam(Strict):
    achternaam: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    voorvoegsel: Annotated[str, StringConstraints(max_length=10)] | None = None
    voornamen: Annotated[str, StringConstraints(max_length=200)] | None = None
    #: Letters only, as the standard has it ("JP", not "J.P.").
    voorletters: Annotated[str, StringConstraints(pattern=r"^[A-Za-zÀ-ỳ]{1,6}$")] | None = None


class Adres(Strict):
    straatnaam: Annotated[str, StringConstraints(max_length=24)] | None = None
    huisnummer: int | None = Field(None, ge=1, le=99999)
    huisletter: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]$")] | None = None
    huisnummer_toevoeging: Annotated[str, StringConstraints(max_length=4)] | None = None
    postcode: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{3}[A-Z]{2}$")] | None = None
    plaatsnaam: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    landcode: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "NL"


class Maatregel(Strict):
    """A child-protection or youth-probation measure, or closed youth care (PGB policy)."""

    soort: Literal["ots", "voogdij", "jeugdreclassering", "gesloten_jeugdhulp"]
    begindatum: date
    einddatum: date | None = None


class Vertegenwoordiger(Strict):
    """Who manages a PGB for the client (budgethouder's representative)."""

    naam: Naam
    relatie: Annotated[str, StringConstraints(min_length=1, max_length=50)] = Field(
        description="e.g. ouder, curator, bewindvoerder, mentor"
    )
    bsn: Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")] | None = None
    adres: Adres | None = None


class Client(Strict):
    bsn: Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")] = Field(
        description="Burgerservicenummer; must pass the 11-proef."
    )
    geboortedatum: date
    geslacht: str = Field(description="COD046: 0 onbekend, 1 mannelijk, 2 vrouwelijk.")
    naam: Naam
    adres: Adres | None = Field(None, description="BRP-adres; required unless a verblijfadres is given.")
    verblijfadres: Adres | None = None
    telefoon: Annotated[str, StringConstraints(pattern=r"^[0-9]{10,15}$")] | None = None
    emailadres: Annotated[str, StringConstraints(max_length=200)] | None = None
    vertegenwoordiger: Vertegenwoordiger | None = Field(
        None, description="Manages a PGB for the client; the client is budgethouder when absent."
    )
    maatregelen: list[Maatregel] = Field(
        default_factory=list, description="Measures and closed youth care; they exclude a PGB for a minor."
    )


class Verwijzer(Strict):
    type: str = Field(
        description="COD327: 01 gemeente, 02 huisarts, 03 jeugdarts, 04 GI, 05 medisch specialist, "
        "06 zelfverwijzer, 08 rechter/OvJ/JJI."
    )
    naam: Annotated[str, StringConstraints(max_length=70)] | None = None
    zorgverlenercode: Annotated[str, StringConstraints(pattern=r"^[0-9]{8}$")] | None = None


class Periode(Strict):
    begindatum: date
    einddatum: date | None = None


class Omvang(Strict):
    volume: int = Field(ge=1)
    eenheid: str = Field(description="WJ756, e.g. 04 uur, 14 etmaal, 16 dagdeel.")
    frequentie: str = Field(description="WJ757: 1 per dag, 2 per week, 4 per maand, 6 totaal.")


class Product(Strict):
    categorie: str = Field(description="Productcategorie of the law (iJw 31-38/40-55, iWmo 01-18).")
    code: str | None = Field(None, description="Productcode (at most 5 characters); absent = aspecifiek.")
    leveringsvorm: Leveringsvorm = Leveringsvorm.ZIN
    aanbieder_agb: Agb | None = Field(None, description="AGB code of the aanbieder; required for ZIN.")
    omvang: Omvang | None = None
    budget: int | None = Field(None, ge=0, description="Eurocent.")
    periode: Periode | None = Field(None, description="Overrides the beschikking's period for this product.")
    commentaar: Annotated[str, StringConstraints(max_length=1000)] | None = None
    hulpverlener: Literal["professioneel", "zelfstandige", "sociaal_netwerk"] | None = Field(
        None, description="PGB: who gives the care; decides the tariff percentage of the ZIN tariff."
    )
    eenmalig: bool = Field(
        False, description="PGB: a one-off budget (woningaanpassing, vehicle), paid directly."
    )
    kostprijs: int | None = Field(
        None, ge=0, description="Eurocent; for hulpmiddelen and woonvoorzieningen (reported to the CAK)."
    )


class BeschikkingIn(Strict):
    beschikkingnummer: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]{1,50}$")]
    wet: Law
    client: Client
    periode: Periode
    producten: list[Product] = Field(min_length=1, max_length=50)
    verwijzer: Verwijzer | None = None
    gebiedsteam: ShortText | None = None
    commentaar: Annotated[str, StringConstraints(max_length=1000)] | None = None


class ToewijzingOut(BaseModel):
    toewijzingnummer: int
    aanbieder_agb: str
    categorie: str | None
    productcode: str | None
    ingangsdatum: date
    einddatum: date | None


class BerichtRef(BaseModel):
    id: int
    type: str
    state: str
    aanbieder_agb: str
    href: str


class BeschikkingOut(BaseModel):
    id: int
    beschikkingnummer: str
    wet: Law
    toewijzingen: list[ToewijzingOut]
    berichten: list[BerichtRef]


#: Re-exported for the intake rules that reference them by name.
__all__ = [
    "Adres",
    "BerichtRef",
    "BeschikkingIn",
    "BeschikkingOut",
    "Client",
    "Digits4",
    "Leveringsvorm",
    "Naam",
    "Omvang",
    "Periode",
    "Product",
    "ToewijzingOut",
    "Verwijzer",
]
