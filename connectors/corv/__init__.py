"""StUF koppelvlak Jeugdzorg jz0100 1.0.9: the CORV messages (see CORV_CONTRACT.md).

Public API (stable; H2's gateway side codes against it):

Model (``connectors.corv.model``; frozen dataclasses, Dutch field names as in the XSD)
    Systeem(organisatie=OIN, applicatie, administratie=None, gebruiker=None)
    Stuurgegevens(zender, ontvanger, referentienummer, tijdstip: datetime,
                  berichtcode="Di01", functie=None, cross_refnummer=None)
        .answer(berichtcode=, referentienummer=, tijdstip=) -> Stuurgegevens
    Persoon(bsn, geslachtsnaam, voorvoegsel, voorletters, voornamen, geslachtsaanduiding,
            geboortedatum: date, anp_identificatie, telefoonnummer, emailadres)
    Kind(persoon, ongeboren=False); Vestiging(handelsnaam, telefoonnummer, ...)
    Belanghebbende(rol (one of ROLLEN_VTO), persoon=None, vestiging=None)
    Uitvoerende(achternaam, organisatie, voorletters, functie, telefoonnummer, emailadres)
    Document(soort: DocumentSoort, identificatie, bestandsnaam, content: bytes|Path|BinaryIO,
             creatiedatum: date, mime_type="application/pdf", titel=None, ...)
    Vto(stuurgegevens, zaak_identificatie, startdatum, registratiedatum, urgentie: Urgentie,
        kinderen, belanghebbenden, uitvoerende, documenten, omschrijving=None)
    Terugkoppeling(stuurgegevens, zaak_identificatie, zorgmelding_kenmerk,
                   resultaat: TerugkoppelingResultaat, contactpersoon, jeugdige=None, ...)
    Notificatie(stuurgegevens, status: NotificatieStatus, status_tijdstip, client, ...,
                zaak_identificatie (the Raad's), gemeente_zaak_identificatie (links to
                our VTO; None = ambtshalve), resultaat: NotificatieResultaat|None, ...)
    Notificatiejr(stuurgegevens, toezichtsoort ("01".."13"), jeugdige, ...)
    Zorgmelding(stuurgegevens, kenmerk, contactpersoon, document: bytes, ...)
    StufAnswer(stuurgegevens, fout: Fout|None=None)  # Bv01 / Fo01 / Fo03
    Fout(code, omschrijving, plek="client", details=None)

Rendering (validated against the project's own XSDs in schemas/corv/)
    render_vto(vto, out: BinaryIO) -> None            # streaming, chunked base64
    render_vto_bytes(vto) -> bytes                    # small ones / tests
    check_vto(vto) -> None                            # XSD + business rules, no output
    render_terugkoppeling(t) -> bytes
    render_notificatie(n) / render_notificatiejr(n) / render_zorgmelding(z) -> bytes
    render_answer(StufAnswer) -> bytes
    bv01(received: Stuurgegevens, referentienummer=None, tijdstip=None) -> StufAnswer
    fo01(received, fout: Fout, ...) / fo03(received, fout: Fout, ...) -> StufAnswer

Parsing
    parse_message(data: bytes | Path | BinaryIO) -> Vto | Terugkoppeling | Notificatie
        | Notificatiejr | Zorgmelding | StufAnswer   (XSD-validated with our schemas)
    parse_inbound(data) -> Notificatie | Notificatiejr | Zorgmelding | StufAnswer
    message_name(data: bytes) -> str   # "vtoDi01", "Bv01", … (the ebMS Action)
    StufError(omschrijving, code="StUF055", details=None): .code, .fout(), .stuurgegevens
        (best effort: the refused message's stuurgegevens, to address the Fo03; else None)

Constants: STUF_XSD_ERROR="StUF055", STUF_DUPLICATE="StUF016", CORV_RULE="CORV01" (the
project's code for a broken CORV rule), MAX_DOCUMENT_BYTES (21 MiB decoded), MAX_MESSAGE_BYTES,
EXTRA_URGENTIE, EXTRA_TOEZICHTSOORT, TOEZICHTSOORTEN, ROLLEN_VTO, JZ_NS, STUF_NS.
"""

from connectors.corv.errors import StufError
from connectors.corv.model import (
    EXTRA_TOEZICHTSOORT,
    EXTRA_URGENTIE,
    MAX_DOCUMENT_BYTES,
    ROLLEN_VTO,
    STUF_DUPLICATE,
    STUF_XSD_ERROR,
    TOEZICHTSOORTEN,
    AnyMessage,
    Belanghebbende,
    Beslissing,
    Document,
    DocumentSoort,
    Fout,
    InboundMessage,
    Kind,
    Notificatie,
    Notificatiejr,
    NotificatieResultaat,
    NotificatieStatus,
    Persoon,
    StufAnswer,
    Stuurgegevens,
    Systeem,
    Terugkoppeling,
    TerugkoppelingResultaat,
    Uitvoerende,
    Urgentie,
    Vestiging,
    Vto,
    Zorgmelding,
)
from connectors.corv.names import BG_NS, JZ_NS, STUF_NS, ZKN_NS
from connectors.corv.parse import MAX_MESSAGE_BYTES, message_name, parse_inbound, parse_message
from connectors.corv.render import (
    bv01,
    fo01,
    fo03,
    render_answer,
    render_notificatie,
    render_notificatiejr,
    render_terugkoppeling,
    render_zorgmelding,
)
from connectors.corv.vto import CORV_RULE, check_vto, render_vto, render_vto_bytes

__all__ = [
    "BG_NS",
    "CORV_RULE",
    "EXTRA_TOEZICHTSOORT",
    "EXTRA_URGENTIE",
    "JZ_NS",
    "MAX_DOCUMENT_BYTES",
    "MAX_MESSAGE_BYTES",
    "ROLLEN_VTO",
    "STUF_DUPLICATE",
    "STUF_NS",
    "STUF_XSD_ERROR",
    "TOEZICHTSOORTEN",
    "ZKN_NS",
    "AnyMessage",
    "Belanghebbende",
    "Beslissing",
    "Document",
    "DocumentSoort",
    "Fout",
    "InboundMessage",
    "Kind",
    "Notificatie",
    "NotificatieResultaat",
    "NotificatieStatus",
    "Notificatiejr",
    "Persoon",
    "StufAnswer",
    "StufError",
    "Stuurgegevens",
    "Systeem",
    "Terugkoppeling",
    "TerugkoppelingResultaat",
    "Uitvoerende",
    "Urgentie",
    "Vestiging",
    "Vto",
    "Zorgmelding",
    "bv01",
    "check_vto",
    "fo01",
    "fo03",
    "message_name",
    "parse_inbound",
    "parse_message",
    "render_answer",
    "render_notificatie",
    "render_notificatiejr",
    "render_terugkoppeling",
    "render_vto",
    "render_vto_bytes",
    "render_zorgmelding",
]
