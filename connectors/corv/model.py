"""The StUF koppelvlak Jeugdzorg jz0100 1.0.9 messages as plain dataclasses.

Only what the gateway sends and receives is modelled; fields mirror the XSD elements
(names in Dutch, as in the standard) so that a reader can map them one to one. Code
lists are ``StrEnum``s whose values are the literal XSD enumeration values.

Two facts the published XSD leaves to ``StUF:extraElementen`` are the project's choice
of ``naam``: the VTO urgency (``urgentie``: ``laag``/``hoog``) and the jeugdreclassering
toezichtsoort (``toezichtsoort``: ``01``-``13``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

#: extraElement names (project's choice, see module docstring).
EXTRA_URGENTIE = "urgentie"
EXTRA_TOEZICHTSOORT = "toezichtsoort"
#: The StUF code for a message that fails its XSD, and for a duplicate zender+referentienummer.
STUF_XSD_ERROR = "StUF055"
STUF_DUPLICATE = "StUF016"
#: Limit for one decoded document in a VTO (the CORV limit).
MAX_DOCUMENT_BYTES = 21 * 1024 * 1024


class Urgentie(enum.StrEnum):
    LAAG = "laag"
    HOOG = "hoog"


class DocumentSoort(enum.StrEnum):
    """``dct.omschrijving`` of a VTO document (exactly one VERZOEK_TOT_ONDERZOEK per VTO)."""

    VERZOEK_TOT_ONDERZOEK = "Verzoek tot onderzoek RvdK"
    GEZINSGESCHIEDENIS = "Gezinsgeschiedenis"
    DIAGNOSTISCH_ONDERZOEK = "Diagnostisch onderzoek"
    HULPVERLENINGSRAPPORTAGE = "Hulpverleningsrapportage"


#: ``omschrijving`` of a belanghebbende in a VTO (the role), as the XSD lists them.
ROLLEN_VTO: tuple[str, ...] = (
    "broer of zus", "contactpersoon", "grootouder", "halfbroer of -zus", "hulpverlener", "informant",
    "jeugdige", "kind", "melder", "onderwijsgevende", "opvoeder/verzorger", "ouder met gezag",
    "ouder zonder gezag", "ouder, gezag niet benoemd", "ouder, niet juridisch", "overige professional",
    "overige verwant", "pleegbroer of -zus", "pleegouder", "stiefbroer of -zus", "stiefouder",
    "verpleegkundige, arts of medisch specialist", "voogd",
)  # fmt: skip


class NotificatieStatus(enum.StrEnum):
    INTAKE_AFGEROND = "Intake afgerond"
    ONDERZOEK_AFGEROND = "Onderzoek afgerond"
    ZAAK_AFGEROND = "Zaak afgerond"


class NotificatieResultaat(enum.StrEnum):
    VTO_AFGEWEZEN = "Verzoek tot onderzoek afgewezen"
    GEEN_REKEST = "Geen rekest Kinderbescherming"
    MAATREGEL_OPGELEGD = "Maatregel opgelegd"
    GEEN_MAATREGEL = "Geen maatregel opgelegd"


class TerugkoppelingResultaat(enum.StrEnum):
    GEEN_ACTIE_NODIG = "Geen actie nodig"
    VERVOLGACTIE_NODIG = "Vervolgactie nodig"


#: Toezichtsoort codes of a notificatiejr (jeugdreclassering), 01-13.
TOEZICHTSOORTEN: tuple[str, ...] = tuple(f"{n:02d}" for n in range(1, 14))


# --- stuurgegevens and answers ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Systeem:
    """``zender``/``ontvanger``: for CORV ``organisatie`` is the party's OIN."""

    organisatie: str
    applicatie: str
    administratie: str | None = None
    gebruiker: str | None = None


@dataclass(frozen=True, slots=True)
class Stuurgegevens:
    """StUF stuurgegevens. ``berichtcode`` is ``Di01`` for the koppelvlak messages,
    ``Bv01``/``Fo01``/``Fo03`` for answers (which also carry ``cross_refnummer``)."""

    zender: Systeem
    ontvanger: Systeem
    referentienummer: str
    tijdstip: datetime
    berichtcode: str = "Di01"
    functie: str | None = None
    cross_refnummer: str | None = None

    def answer(self, *, berichtcode: str, referentienummer: str, tijdstip: datetime) -> Stuurgegevens:
        """Stuurgegevens of the Bv01/Fo01/Fo03 to this message: zender/ontvanger swapped,
        crossRefnummer = this referentienummer."""
        return Stuurgegevens(
            zender=self.ontvanger,
            ontvanger=self.zender,
            referentienummer=referentienummer,
            tijdstip=tijdstip,
            berichtcode=berichtcode,
            cross_refnummer=self.referentienummer,
        )


@dataclass(frozen=True, slots=True)
class Fout:
    """The ``body`` of a Fo01/Fo03: StUF foutcode, plek (client/server), omschrijving."""

    code: str
    omschrijving: str
    plek: str = "client"
    details: str | None = None


@dataclass(frozen=True, slots=True)
class StufAnswer:
    """A ``Bv01Bericht`` (``fout`` is None), ``Fo01Bericht`` or ``Fo03Bericht``."""

    stuurgegevens: Stuurgegevens
    fout: Fout | None = None
    meldingen: tuple[str, ...] = ()

    @property
    def berichtcode(self) -> str:
        return self.stuurgegevens.berichtcode


# --- persons ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Persoon:
    """A natural person (child, parent, jeugdige). Which fields are required depends on
    the message and role; the render validates against the XSD."""

    bsn: str | None = None
    geslachtsnaam: str | None = None
    voorvoegsel: str | None = None
    voorletters: str | None = None
    voornamen: str | None = None
    geslachtsaanduiding: str | None = None  # M, V, O
    geboortedatum: date | None = None
    #: ``anp.identificatie`` (17 digits), required for a belanghebbende in a VTO/zorgmelding.
    anp_identificatie: str | None = None
    telefoonnummer: str | None = None
    emailadres: str | None = None


@dataclass(frozen=True, slots=True)
class Vestiging:
    """An organisation as belanghebbende (e.g. the GI as voogd)."""

    handelsnaam: str
    telefoonnummer: str | None = None
    emailadres: str | None = None
    vestigingsnummer: str | None = None


@dataclass(frozen=True, slots=True)
class Kind:
    """A child of a VTO: by BSN, or an unborn child (``ongeboren``, no BSN)."""

    persoon: Persoon
    ongeboren: bool = False


@dataclass(frozen=True, slots=True)
class Belanghebbende:
    """A belanghebbende with its role (one of :data:`ROLLEN_VTO` in a VTO): a natural
    person or an organisation (vestiging)."""

    rol: str
    persoon: Persoon | None = None
    vestiging: Vestiging | None = None
    code: str | None = None


# --- outbound --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Document:
    """A VTO document. ``content`` is bytes, a file path or an open binary stream: the
    renderer base64-encodes it in chunks, never holding it whole."""

    soort: DocumentSoort
    identificatie: str
    bestandsnaam: str
    content: bytes | Path | BinaryIO
    creatiedatum: date
    mime_type: str = "application/pdf"
    titel: str | None = None
    auteur: str | None = None
    vertrouwelijkheid: str | None = None


@dataclass(frozen=True, slots=True)
class Uitvoerende:
    """``heeftAlsUitvoerende`` of a VTO: the gemeente's medewerker and organisation."""

    achternaam: str
    organisatie: str
    voorletters: str | None = None
    functie: str | None = None
    telefoonnummer: str | None = None
    emailadres: str | None = None


@dataclass(frozen=True, slots=True)
class Vto:
    """``vtoDi01``: the gemeente's verzoek tot onderzoek to the Raad."""

    stuurgegevens: Stuurgegevens
    zaak_identificatie: str
    startdatum: date
    registratiedatum: date
    urgentie: Urgentie
    kinderen: tuple[Kind, ...]
    belanghebbenden: tuple[Belanghebbende, ...]
    uitvoerende: Uitvoerende
    documenten: tuple[Document, ...]
    omschrijving: str | None = None


@dataclass(frozen=True, slots=True)
class Terugkoppeling:
    """``zorgmeldingTerugkoppelingDi01``: the gemeente's answer to a zorgmelding."""

    stuurgegevens: Stuurgegevens
    zaak_identificatie: str
    zorgmelding_kenmerk: str
    resultaat: TerugkoppelingResultaat
    contactpersoon: str
    jeugdige: Persoon | None = None
    belanghebbenden: tuple[Belanghebbende, ...] = ()


# --- inbound ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Beslissing:
    """``leidtTot`` of a notificatie: a decision (e.g. the measure imposed)."""

    datum: date
    toelichting: str
    ingangsdatum: date | None = None
    einddatum: date | None = None


@dataclass(frozen=True, slots=True)
class Notificatie:
    """``notificatieDi01`` from the Raad. ``gemeente_zaak_identificatie`` (from
    ``heeftBetrekkingOpAndere/gerelateerde/identificatie``) links it to our VTO; it is
    None for an ambtshalve investigation. ``zaak_identificatie`` is the Raad's own."""

    stuurgegevens: Stuurgegevens
    status: NotificatieStatus
    status_tijdstip: str
    client: Persoon
    client_ongeboren: bool = False
    zaak_identificatie: str | None = None
    gemeente_zaak_identificatie: str | None = None
    resultaat: NotificatieResultaat | None = None
    beslissingen: tuple[Beslissing, ...] = ()
    ouder: Persoon | None = None


@dataclass(frozen=True, slots=True)
class Notificatiejr:
    """``notificatiejrDi01``: jeugdreclassering (toezichtsoort 01-13)."""

    stuurgegevens: Stuurgegevens
    toezichtsoort: str
    jeugdige: Persoon
    omschrijving: str | None = None
    initiator: str | None = None  # statutaire naam of the organisation
    contactpersoon: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Zorgmelding:
    """``zorgmeldingDi01`` from the police. ``document`` is the decoded melding."""

    stuurgegevens: Stuurgegevens
    kenmerk: str
    contactpersoon: str
    document: bytes
    document_creatiedatum: date
    extra: dict[str, str]
    jeugdige: Persoon | None = None
    belanghebbenden: tuple[Belanghebbende, ...] = ()
    initiator: str | None = None
    document_titel: str | None = None
    document_bestandsnaam: str | None = None


InboundMessage = Notificatie | Notificatiejr | Zorgmelding | StufAnswer
AnyMessage = Vto | Terugkoppeling | Notificatie | Notificatiejr | Zorgmelding | StufAnswer
