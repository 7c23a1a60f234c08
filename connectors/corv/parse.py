"""Parsing received jz0100 messages (and, for the mock, the ones the gateway sends).

The parser is hardened like :mod:`connectors.xml_input` (no entities, no DTD, no
network, DOCTYPE refused) but allows huge text nodes: a VTO document is up to 28 MB of
base64 in one element, beyond libxml2's default 10 MB text limit. Every message is
validated against the project's own XSD first; a failure is :class:`StufError` StUF055.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from typing import IO

from lxml import etree

from connectors.corv import xml_parts as x
from connectors.corv.errors import StufError
from connectors.corv.model import (
    EXTRA_TOEZICHTSOORT,
    EXTRA_URGENTIE,
    STUF_XSD_ERROR,
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
from connectors.corv.names import JZ_NS, NSMAP, SCHEMA_JZ, SCHEMA_STUF, STUF_NS
from connectors.corv.validation import validate
from connectors.xml_input import MAX_XML_DEPTH, depth_exceeds

#: Larger than any message of this subset (a VTO is ~115 MB).
MAX_MESSAGE_BYTES = 125 * 1024 * 1024
_t = x.text_of
_INBOUND = (Notificatie, Notificatiejr, Zorgmelding, StufAnswer)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=True
    )


def _load(data: bytes | Path | IO[bytes], max_bytes: int) -> etree._Element:
    if isinstance(data, bytes):
        if len(data) > max_bytes:
            raise StufError(f"message is {len(data)} bytes, limit is {max_bytes}")
        source: IO[bytes] = io.BytesIO(data)
    elif isinstance(data, Path):
        if data.stat().st_size > max_bytes:
            raise StufError(f"message is {data.stat().st_size} bytes, limit is {max_bytes}")
        source = data.open("rb")
    else:
        source = data
    try:
        tree = etree.parse(source, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise StufError(f"not well-formed XML: {exc.msg} (line {exc.lineno})"[:200]) from None
    finally:
        if isinstance(data, Path):
            source.close()
    docinfo = tree.getroot().getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise StufError("a DOCTYPE is not allowed")
    # huge_tree (needed for the base64 documents, text nodes of up to 28 MB) also lifts
    # libxml2's own depth limit from 256 to 2048; no jz0100 message nests beyond ~12 levels.
    if depth_exceeds(tree.getroot(), MAX_XML_DEPTH):
        raise StufError(f"nesting deeper than {MAX_XML_DEPTH} levels")
    return tree.getroot()


def message_name(data: bytes) -> str:
    """The message name for the ebMS Action: ``vtoDi01`` … or ``Bv01``/``Fo01``/``Fo03``."""
    try:
        for _event, element in etree.iterparse(
            io.BytesIO(data), events=("start",), resolve_entities=False, no_network=True
        ):
            return _name_of(element.tag)
    except etree.XMLSyntaxError as exc:
        raise StufError(f"not well-formed XML: {exc.msg}"[:200]) from None
    raise StufError("empty document")


def _name_of(tag: str) -> str:
    qname = etree.QName(tag)
    if qname.namespace == STUF_NS and qname.localname.endswith("Bericht"):
        return qname.localname.removesuffix("Bericht")
    return qname.localname


def parse_message(data: bytes | Path | IO[bytes], *, max_bytes: int = MAX_MESSAGE_BYTES) -> AnyMessage:
    """Parse and validate any message of the subset; :class:`StufError` (StUF055) when
    it is not well-formed, not one of ours, or fails our XSD."""
    return message_of(load_message(data, max_bytes=max_bytes))


def load_message(data: bytes | Path | IO[bytes], *, max_bytes: int = MAX_MESSAGE_BYTES) -> etree._Element:
    """The parsed document, not yet validated: for a caller that checks the tree further
    (the mock against the published XSD) without parsing a 112 MiB VTO twice."""
    return _load(data, max_bytes)


def message_of(root: etree._Element) -> AnyMessage:
    """Validate a document from :func:`load_message` and read it (as :func:`parse_message`)."""
    qname = etree.QName(root)
    if qname.namespace == JZ_NS and qname.localname in _DI01:
        _validate(root, SCHEMA_JZ)
        return _DI01[qname.localname](root)
    if qname.namespace == STUF_NS and qname.localname in ("Bv01Bericht", "Fo01Bericht", "Fo03Bericht"):
        _validate(root, SCHEMA_STUF)
        return _answer(root)
    raise StufError(f"{qname.localname[:60]!r} is not a message of the CORV subset", code=STUF_XSD_ERROR)


def _validate(root: etree._Element, schema: str) -> None:
    try:
        validate(root, schema)
    except StufError as exc:
        sg = _stuurgegevens(root)
        if sg.referentienummer and sg.zender.organisatie:
            exc.stuurgegevens = sg
        raise


def parse_inbound(data: bytes | Path | IO[bytes], *, max_bytes: int = MAX_MESSAGE_BYTES) -> InboundMessage:
    """Parse a message the gateway receives (notificatie, notificatiejr, zorgmelding,
    Bv01/Fo01/Fo03); anything else is :class:`StufError` StUF055."""
    message = parse_message(data, max_bytes=max_bytes)
    if not isinstance(message, _INBOUND):
        raise StufError(f"{type(message).__name__} is not a message the gemeente receives")
    return message


def _systeem(el: etree._Element | None) -> Systeem:
    return Systeem(
        organisatie=_t(el, "StUF:organisatie") or "",
        applicatie=_t(el, "StUF:applicatie") or "",
        administratie=_t(el, "StUF:administratie"),
        gebruiker=_t(el, "StUF:gebruiker"),
    )


def _stuurgegevens(root: etree._Element) -> Stuurgegevens:
    sg = root.find("JZ:stuurgegevens", NSMAP)
    if sg is None:
        sg = root.find("StUF:stuurgegevens", NSMAP)
    return Stuurgegevens(
        zender=_systeem(sg.find("StUF:zender", NSMAP) if sg is not None else None),
        ontvanger=_systeem(sg.find("StUF:ontvanger", NSMAP) if sg is not None else None),
        referentienummer=_t(sg, "StUF:referentienummer") or "",
        tijdstip=x.parse_tijdstip(_t(sg, "StUF:tijdstipBericht")),
        berichtcode=_t(sg, "StUF:berichtcode") or "",
        functie=_t(sg, "StUF:functie"),
        cross_refnummer=_t(sg, "StUF:crossRefnummer"),
    )


def _persoon(np: etree._Element | None) -> Persoon:
    return Persoon(
        bsn=_t(np, "BG:inp.bsn"),
        anp_identificatie=_t(np, "BG:anp.identificatie"),
        geslachtsnaam=_t(np, "BG:geslachtsnaam"),
        voorvoegsel=_t(np, "BG:voorvoegselGeslachtsnaam"),
        voorletters=_t(np, "BG:voorletters"),
        voornamen=_t(np, "BG:voornamen"),
        geslachtsaanduiding=_t(np, "BG:geslachtsaanduiding"),
        geboortedatum=x.parse_date(_t(np, "BG:geboortedatum")),
        telefoonnummer=_t(np, "BG:sub.telefoonnummer"),
        emailadres=_t(np, "BG:sub.emailadres"),
    )


def _extra(obj: etree._Element) -> dict[str, str]:
    return {
        e.get("naam") or "": (e.text or "").strip()
        for e in obj.findall("StUF:extraElementen/StUF:extraElement", NSMAP)
    }


def _belanghebbenden(obj: etree._Element) -> tuple[Belanghebbende, ...]:
    result = []
    for rel in obj.findall("ZKN:heeftAlsBelanghebbende", NSMAP):
        np = rel.find("ZKN:gerelateerde/ZKN:natuurlijkPersoon", NSMAP)
        ves = rel.find("ZKN:gerelateerde/ZKN:vestiging", NSMAP)
        vestiging = None
        if ves is not None:
            vestiging = Vestiging(
                handelsnaam=_t(ves, "BG:handelsnaamVerkort") or "",
                telefoonnummer=_t(ves, "BG:sub.telefoonnummer"),
                emailadres=_t(ves, "BG:sub.emailadres"),
                vestigingsnummer=_t(ves, "BG:vestigingsNummer"),
            )
        result.append(
            Belanghebbende(
                rol=_t(rel, "ZKN:omschrijving") or "",
                persoon=_persoon(np) if np is not None else None,
                vestiging=vestiging,
                code=_t(rel, "ZKN:code"),
            )
        )
    return tuple(result)


def _contact(obj: etree._Element) -> str | None:
    return _t(obj, "ZKN:heeftAlsInitiator/ZKN:heeftAlsAanspreekpunt/ZKN:gerelateerde/ZKN:naam")


def _vto(root: etree._Element) -> Vto:
    obj = root.find("JZ:object", NSMAP)
    assert obj is not None  # guaranteed by the XSD
    kinderen = tuple(
        Kind(
            persoon=_persoon(rel.find("ZKN:gerelateerde/ZKN:natuurlijkPersoon", NSMAP)),
            ongeboren=_t(rel, "ZKN:omschrijving") == "Client (ongeboren kind)",
        )
        for rel in obj.findall("ZKN:heeftBetrekkingOp", NSMAP)
    )
    mdw = obj.find("ZKN:heeftAlsUitvoerende/ZKN:gerelateerde/ZKN:medewerker", NSMAP)
    documenten = []
    for edc in obj.findall("ZKN:heeftRelevant/ZKN:gerelateerde", NSMAP):
        inhoud = edc.find("ZKN:inhoud", NSMAP)
        documenten.append(
            Document(
                soort=DocumentSoort(_t(edc, "ZKN:dct.omschrijving") or ""),
                identificatie=_t(edc, "ZKN:identificatie") or "",
                bestandsnaam=(inhoud.get(f"{{{STUF_NS}}}bestandsnaam") if inhoud is not None else None) or "",
                content=base64.b64decode("".join((inhoud.text or "").split())) if inhoud is not None else b"",
                creatiedatum=x.parse_date(_t(edc, "ZKN:creatiedatum")) or x.parse_tijdstip("").date(),
                mime_type=(
                    inhoud.get("{http://www.w3.org/2005/05/xmlmime}contentType")
                    if inhoud is not None
                    else None
                )
                or "application/octet-stream",
                titel=_t(edc, "ZKN:titel"),
                auteur=_t(edc, "ZKN:auteur"),
                vertrouwelijkheid=_t(edc, "ZKN:vertrouwelijkAanduiding"),
            )
        )
    urgentie = _extra(obj).get(EXTRA_URGENTIE, "laag")
    return Vto(
        stuurgegevens=_stuurgegevens(root),
        zaak_identificatie=_t(obj, "ZKN:identificatie") or "",
        startdatum=x.parse_date(_t(obj, "ZKN:startdatum")) or x.parse_tijdstip("").date(),
        registratiedatum=x.parse_date(_t(obj, "ZKN:registratiedatum")) or x.parse_tijdstip("").date(),
        urgentie=Urgentie(urgentie) if urgentie in ("laag", "hoog") else Urgentie.LAAG,
        kinderen=kinderen,
        belanghebbenden=_belanghebbenden(obj),
        uitvoerende=Uitvoerende(
            achternaam=_t(mdw, "ZKN:achternaam") or "",
            organisatie=_t(
                obj, "ZKN:heeftAlsUitvoerende/ZKN:gerelateerde/ZKN:nietNatuurlijkPersoon/BG:statutaireNaam"
            )
            or "",
            voorletters=_t(mdw, "ZKN:voorletters"),
            functie=_t(mdw, "ZKN:functie"),
            telefoonnummer=_t(mdw, "ZKN:telefoonnummer"),
            emailadres=_t(mdw, "ZKN:emailadres"),
        ),
        documenten=tuple(documenten),
        omschrijving=_t(obj, "ZKN:omschrijving"),
    )


def _terugkoppeling(root: etree._Element) -> Terugkoppeling:
    obj = root.find("JZ:object", NSMAP)
    assert obj is not None
    jeugdige = obj.find("ZKN:heeftBetrekkingOp/ZKN:gerelateerde/ZKN:natuurlijkPersoon", NSMAP)
    return Terugkoppeling(
        stuurgegevens=_stuurgegevens(root),
        zaak_identificatie=_t(obj, "ZKN:identificatie") or "",
        zorgmelding_kenmerk=_t(obj, "ZKN:kenmerk/ZKN:kenmerk") or "",
        resultaat=TerugkoppelingResultaat(_t(obj, "ZKN:resultaat/ZKN:omschrijving") or ""),
        contactpersoon=_contact(obj) or "",
        jeugdige=_persoon(jeugdige) if jeugdige is not None else None,
        belanghebbenden=_belanghebbenden(obj),
    )


def _notificatie(root: etree._Element) -> Notificatie:
    obj = root.find("JZ:object", NSMAP)
    assert obj is not None
    resultaat = _t(obj, "ZKN:resultaat/ZKN:omschrijving")
    ouder = obj.find("ZKN:heeftAlsBelanghebbende/ZKN:gerelateerde/ZKN:natuurlijkPersoon", NSMAP)
    beslissingen = tuple(
        Beslissing(
            datum=x.parse_date(_t(bsl, "ZKN:datumBeslissing")) or x.parse_tijdstip("").date(),
            toelichting=_t(bsl, "ZKN:toelichting") or "",
            ingangsdatum=x.parse_date(_t(bsl, "ZKN:ingangsdatumWerking")),
            einddatum=x.parse_date(_t(bsl, "ZKN:einddatumWerking")),
        )
        for bsl in obj.findall("ZKN:leidtTot/ZKN:gerelateerde", NSMAP)
    )
    return Notificatie(
        stuurgegevens=_stuurgegevens(root),
        status=NotificatieStatus(_t(obj, "ZKN:heeft/ZKN:gerelateerde/ZKN:omschrijving") or ""),
        status_tijdstip=_t(obj, "ZKN:heeft/ZKN:datumStatusGezet") or "",
        client=_persoon(obj.find("ZKN:heeftBetrekkingOp/ZKN:gerelateerde/ZKN:natuurlijkPersoon", NSMAP)),
        client_ongeboren=_t(obj, "ZKN:heeftBetrekkingOp/ZKN:omschrijving") == "Client (ongeboren kind)",
        zaak_identificatie=_t(obj, "ZKN:identificatie"),
        gemeente_zaak_identificatie=_t(obj, "ZKN:heeftBetrekkingOpAndere/ZKN:gerelateerde/ZKN:identificatie"),
        resultaat=NotificatieResultaat(resultaat) if resultaat else None,
        beslissingen=beslissingen,
        ouder=_persoon(ouder) if ouder is not None else None,
    )


def _notificatiejr(root: etree._Element) -> Notificatiejr:
    obj = root.find("JZ:object", NSMAP)
    assert obj is not None
    extra = _extra(obj)
    toezichtsoort = extra.pop(EXTRA_TOEZICHTSOORT, "")
    return Notificatiejr(
        stuurgegevens=_stuurgegevens(root),
        toezichtsoort=toezichtsoort,
        jeugdige=_persoon(obj.find("ZKN:heeftBetrekkingOp/ZKN:gerelateerde/ZKN:natuurlijkPersoon", NSMAP)),
        omschrijving=_t(obj, "ZKN:omschrijving"),
        initiator=_t(
            obj, "ZKN:heeftAlsInitiator/ZKN:gerelateerde/ZKN:nietNatuurlijkPersoon/BG:statutaireNaam"
        ),
        contactpersoon=_contact(obj),
        extra=extra,
    )


def _zorgmelding(root: etree._Element) -> Zorgmelding:
    obj = root.find("JZ:object", NSMAP)
    assert obj is not None
    jeugdige = obj.find("ZKN:heeftBetrekkingOp/ZKN:gerelateerde/ZKN:natuurlijkPersoon", NSMAP)
    edc = obj.find("ZKN:heeftRelevant/ZKN:gerelateerde", NSMAP)
    inhoud = edc.find("ZKN:inhoud", NSMAP) if edc is not None else None
    return Zorgmelding(
        stuurgegevens=_stuurgegevens(root),
        kenmerk=_t(obj, "ZKN:kenmerk/ZKN:kenmerk") or "",
        contactpersoon=_contact(obj) or "",
        document=base64.b64decode("".join((inhoud.text or "").split())) if inhoud is not None else b"",
        document_creatiedatum=x.parse_date(_t(edc, "ZKN:creatiedatum")) or x.parse_tijdstip("").date(),
        extra=_extra(obj),
        jeugdige=_persoon(jeugdige) if jeugdige is not None else None,
        belanghebbenden=_belanghebbenden(obj),
        initiator=_t(
            obj, "ZKN:heeftAlsInitiator/ZKN:gerelateerde/ZKN:nietNatuurlijkPersoon/BG:statutaireNaam"
        ),
        document_titel=_t(edc, "ZKN:titel"),
        document_bestandsnaam=inhoud.get(f"{{{STUF_NS}}}bestandsnaam") if inhoud is not None else None,
    )


def _answer(root: etree._Element) -> StufAnswer:
    body = root.find("StUF:body", NSMAP)
    fout = None
    if body is not None:
        fout = Fout(
            code=_t(body, "StUF:code") or "",
            omschrijving=_t(body, "StUF:omschrijving") or "",
            plek=_t(body, "StUF:plek") or "client",
            details=_t(body, "StUF:details"),
        )
    meldingen = tuple((m.text or "").strip() for m in root.findall("StUF:melding", NSMAP))
    return StufAnswer(stuurgegevens=_stuurgegevens(root), fout=fout, meldingen=meldingen)


_DI01: dict[str, Callable[[etree._Element], AnyMessage]] = {
    "vtoDi01": _vto,
    "zorgmeldingTerugkoppelingDi01": _terugkoppeling,
    "notificatieDi01": _notificatie,
    "notificatiejrDi01": _notificatiejr,
    "zorgmeldingDi01": _zorgmelding,
}
