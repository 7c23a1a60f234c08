"""The back-office's CORV API in JSON: a VTO in, states, notificaties and zorgmeldingen out.

Field names follow the jz0100 standard's Dutch terms, so a back-office developer can
look each one up; the gateway builds the StUF XML and the ebMS envelope.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.api.xml_safe import XmlSafeModel


class PersoonIn(XmlSafeModel):
    model_config = ConfigDict(extra="forbid")
    bsn: str | None = Field(None, description="9 digits, passes the 11-proef.")
    geslachtsnaam: str | None = Field(None, max_length=200)
    voorvoegsel: str | None = Field(None, max_length=10)
    voorletters: str | None = Field(None, max_length=20)
    voornamen: str | None = Field(None, max_length=200)
    geslachtsaanduiding: Literal["M", "V", "O"] | None = None
    geboortedatum: date | None = None
    anp_identificatie: str | None = Field(None, pattern=r"^[0-9]{17}$")
    telefoonnummer: str | None = Field(None, max_length=20)
    emailadres: str | None = Field(None, max_length=254)


class KindIn(XmlSafeModel):
    """A child by BSN (``persoon.bsn``), or an unborn child (``ongeboren``, no BSN)."""

    model_config = ConfigDict(extra="forbid")
    ongeboren: bool = False
    persoon: PersoonIn = Field(default_factory=PersoonIn)


class OrganisatieIn(XmlSafeModel):
    model_config = ConfigDict(extra="forbid")
    handelsnaam: str = Field(min_length=1, max_length=200)
    telefoonnummer: str | None = Field(None, max_length=20)
    emailadres: str | None = Field(None, max_length=254)
    vestigingsnummer: str | None = Field(None, max_length=12)


class BelanghebbendeIn(XmlSafeModel):
    """A belanghebbende with its role (``ouder met gezag``, ``voogd``, ``pleegouder`` ...)."""

    model_config = ConfigDict(extra="forbid")
    rol: str = Field(min_length=1, max_length=80)
    persoon: PersoonIn | None = None
    organisatie: OrganisatieIn | None = None


class UitvoerendeIn(XmlSafeModel):
    model_config = ConfigDict(extra="forbid")
    achternaam: str = Field(min_length=1, max_length=200)
    organisatie: str = Field(min_length=1, max_length=200)
    voorletters: str | None = Field(None, max_length=20)
    functie: str | None = Field(None, max_length=100)
    telefoonnummer: str | None = Field(None, max_length=20)
    emailadres: str | None = Field(None, max_length=254)


class DocumentIn(XmlSafeModel):
    """A document: its content in the multipart part named ``part``, or (JSON) ``inhoud``."""

    model_config = ConfigDict(extra="forbid")
    soort: str = Field(
        description="Verzoek tot onderzoek RvdK (exactly one), Gezinsgeschiedenis, "
        "Diagnostisch onderzoek, Hulpverleningsrapportage."
    )
    bestandsnaam: str = Field(min_length=1, max_length=255)
    mime_type: str = Field("application/pdf", max_length=100)
    titel: str | None = Field(None, max_length=200)
    creatiedatum: date | None = None
    identificatie: str | None = Field(None, max_length=40)
    #: multipart/form-data: the name of the file part holding the content.
    part: str | None = Field(None, max_length=100)
    #: application/json: the content, base64 (small documents only).
    inhoud: str | None = None


class VtoIn(XmlSafeModel):
    """A verzoek tot onderzoek for the Raad voor de Kinderbescherming."""

    model_config = ConfigDict(extra="forbid")
    zaak_identificatie: str = Field(
        min_length=1, max_length=40, description="The gemeente's own case id; notificaties refer to it."
    )
    omschrijving: str | None = Field(None, max_length=80)
    startdatum: date
    registratiedatum: date | None = None
    urgentie: Literal["laag", "hoog"]
    kinderen: list[KindIn] = Field(min_length=1, max_length=20)
    belanghebbenden: list[BelanghebbendeIn] = Field(default_factory=list, max_length=30)
    uitvoerende: UitvoerendeIn
    documenten: list[DocumentIn] = Field(min_length=1, max_length=10)
    #: The CORV party (20-digit OIN); default the configured hub.
    ontvanger_oin: str | None = None


class BerichtLink(BaseModel):
    id: int
    type: str
    state: str
    ebms_message_id: str
    attempts: int
    href: str


class Fout(BaseModel):
    code: str | None
    omschrijving: str | None


class NotificatieOut(BaseModel):
    id: int
    soort: str
    status: str
    koppeling: str
    zaak_identificatie: str | None
    vto_id: int | None
    inhoud: dict[str, Any]
    received_at: datetime
    href: str


class VtoOut(BaseModel):
    id: int
    zaak_identificatie: str
    #: queued | sent | acknowledged | accepted | rejected | parked | expired
    state: str
    urgentie: str
    ebms_message_id: str
    referentienummer: str
    bericht: BerichtLink
    fout: Fout | None
    samenvatting: dict[str, Any]
    notificaties: list[NotificatieOut]
    created_at: datetime
    answered_at: datetime | None


class NotificatieList(BaseModel):
    items: list[NotificatieOut]


class ZorgmeldingOut(BaseModel):
    id: int
    status: str
    kenmerk: str | None
    zaak_identificatie: str | None
    inhoud: dict[str, Any]
    terugkoppeling: str | None
    terugkoppeling_bericht: BerichtLink | None
    received_at: datetime
    answered_at: datetime | None


class ZorgmeldingList(BaseModel):
    items: list[ZorgmeldingOut]


class TerugkoppelingIn(XmlSafeModel):
    model_config = ConfigDict(extra="forbid")
    resultaat: Literal["geen_actie_nodig", "vervolgactie_nodig"]
    contactpersoon: str = Field(min_length=1, max_length=200)
    zaak_identificatie: str | None = Field(None, min_length=1, max_length=40)
