"""Rendering of the small jz0100 messages and the StUF answers (Bv01/Fo01/Fo03).

Every rendered message is validated against the project's own XSD before it leaves,
so a bug surfaces as a precise :class:`StufError` here rather than as a Fo01 later.
The VTO, with its large documents, is in :mod:`connectors.corv.vto`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from lxml import etree

from connectors.corv import xml_parts as x
from connectors.corv.model import (
    EXTRA_TOEZICHTSOORT,
    Fout,
    Notificatie,
    Notificatiejr,
    StufAnswer,
    Stuurgegevens,
    Terugkoppeling,
    Zorgmelding,
)
from connectors.corv.names import SCHEMA_JZ, SCHEMA_STUF, STUF_NS, XMIME_NS
from connectors.corv.validation import validate

Z, S, B, J = x.Z, x.S, x.B, x.J
ENT = x.ENTITEITTYPE


def _serialise(root: etree._Element, schema: str) -> bytes:
    validate(root, schema)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _di01(name: str, sg: Stuurgegevens) -> tuple[etree._Element, etree._Element]:
    root = x.root(J + name)
    x.stuurgegevens(root, sg, local_ns=x.JZ_NS_URI, functie=name)
    obj = x.sub(root, J + "object", **{ENT: "ZAK"})
    return root, obj


def _zaaktype(obj: etree._Element, omschrijving: str, code: str | None = None, tag: str = "isVan") -> None:
    rel = x.sub(obj, Z + tag, **{ENT: "ZAKZKT"})
    zkt = x.sub(rel, Z + "gerelateerde", **{ENT: "ZKT"})
    x.opt(zkt, Z + "code", code)
    x.sub(zkt, Z + "omschrijvingGeneriek", omschrijving)


def render_terugkoppeling(t: Terugkoppeling) -> bytes:
    """``zorgmeldingTerugkoppelingDi01`` (validated)."""
    root, obj = _di01("zorgmeldingTerugkoppelingDi01", t.stuurgegevens)
    x.sub(obj, Z + "identificatie", t.zaak_identificatie)
    kenmerk = x.sub(obj, Z + "kenmerk")
    x.sub(kenmerk, Z + "kenmerk", t.zorgmelding_kenmerk)
    x.sub(kenmerk, Z + "bron", "Zorgmelding")
    resultaat = x.sub(obj, Z + "resultaat")
    x.sub(resultaat, Z + "omschrijving", str(t.resultaat))
    _zaaktype(obj, "Signaal behandelen")
    if t.jeugdige is not None:
        rel = x.sub(obj, Z + "heeftBetrekkingOp", **{ENT: "ZAKOBJ"})
        x.persoon(x.sub(rel, Z + "gerelateerde", **{ENT: "OBJ"}), t.jeugdige, fields=x.PERSOON_KORT)
        x.sub(rel, Z + "omschrijving", "jeugdige")
    for b in t.belanghebbenden:
        rel = x.sub(obj, Z + "heeftAlsBelanghebbende", **{ENT: "ZAKBTRBLH"})
        x.belanghebbende_gerelateerde(rel, b, persoon_fields=x.PERSOON_KORT, vestiging_fields=False)
        x.sub(rel, Z + "omschrijving", b.rol)
    initiator = x.sub(obj, Z + "heeftAlsInitiator", **{ENT: "ZAKBTRINI"})
    ctp_rel = x.sub(initiator, Z + "heeftAlsAanspreekpunt", **{ENT: "ZAKBTRINICTP"})
    ctp = x.sub(ctp_rel, Z + "gerelateerde", **{ENT: "CTP"})
    x.sub(ctp, Z + "naam", t.contactpersoon)
    return _serialise(root, SCHEMA_JZ)


def render_notificatie(n: Notificatie) -> bytes:
    """``notificatieDi01`` (the mock sends these; validated)."""
    root, obj = _di01("notificatieDi01", n.stuurgegevens)
    x.opt(obj, Z + "identificatie", n.zaak_identificatie)
    if n.resultaat is not None:
        x.sub(x.sub(obj, Z + "resultaat"), Z + "omschrijving", str(n.resultaat))
    _zaaktype(obj, "Uitvoeren onderzoek kinderbeschermingsmaatregel")
    rel = x.sub(obj, Z + "heeftBetrekkingOp", **{ENT: "ZAKOBJ"})
    x.persoon(x.sub(rel, Z + "gerelateerde", **{ENT: "OBJ"}), n.client, fields=x.PERSOON_NAW)
    x.sub(rel, Z + "omschrijving", "Client (ongeboren kind)" if n.client_ongeboren else "Client (kind)")
    if n.ouder is not None:
        rel = x.sub(obj, Z + "heeftAlsBelanghebbende", **{ENT: "ZAKBTRBLH"})
        x.persoon(x.sub(rel, Z + "gerelateerde", **{ENT: "BTR"}), n.ouder, fields=x.PERSOON_FULL)
        x.sub(rel, Z + "omschrijving", "ouder, gezag niet benoemd")
    if n.gemeente_zaak_identificatie is not None:
        rel = x.sub(obj, Z + "heeftBetrekkingOpAndere", **{ENT: "ZAKZAKBTR"})
        zaak = x.sub(rel, Z + "gerelateerde", **{ENT: "ZAK"})
        x.sub(zaak, Z + "identificatie", n.gemeente_zaak_identificatie)
        _zaaktype(zaak, "Overwegen kinderbeschermingsmaatregel")
    heeft = x.sub(obj, Z + "heeft", **{ENT: "ZAKSTT"})
    x.sub(x.sub(heeft, Z + "gerelateerde", **{ENT: "STT"}), Z + "omschrijving", str(n.status))
    x.sub(heeft, Z + "datumStatusGezet", n.status_tijdstip)
    for beslissing in n.beslissingen:
        rel = x.sub(obj, Z + "leidtTot", **{ENT: "ZAKBSL"})
        bsl = x.sub(rel, Z + "gerelateerde", **{ENT: "BSL"})
        x.sub(bsl, Z + "datumBeslissing", x.stuf_date(beslissing.datum))
        x.sub(bsl, Z + "toelichting", beslissing.toelichting)
        if beslissing.ingangsdatum:
            x.sub(bsl, Z + "ingangsdatumWerking", x.stuf_date(beslissing.ingangsdatum))
        if beslissing.einddatum:
            x.sub(bsl, Z + "einddatumWerking", x.stuf_date(beslissing.einddatum))
    return _serialise(root, SCHEMA_JZ)


def _initiator(
    obj: etree._Element, organisatie: str | None, contactpersoon: str | None, *, required_contact: bool
) -> None:
    initiator = x.sub(obj, Z + "heeftAlsInitiator", **{ENT: "ZAKBTRINI"})
    if organisatie is not None:
        btr = x.sub(initiator, Z + "gerelateerde", **{ENT: "BTR"})
        nnp = x.sub(btr, Z + "nietNatuurlijkPersoon", **{ENT: "NNP"})
        x.sub(nnp, B + "statutaireNaam", organisatie)
    if contactpersoon is not None or required_contact:
        ctp_rel = x.sub(initiator, Z + "heeftAlsAanspreekpunt", **{ENT: "ZAKBTRINICTP"})
        ctp = x.sub(ctp_rel, Z + "gerelateerde", **{ENT: "CTP"})
        x.sub(ctp, Z + "naam", contactpersoon or "")


def render_notificatiejr(n: Notificatiejr) -> bytes:
    """``notificatiejrDi01`` (the mock sends these; validated)."""
    root, obj = _di01("notificatiejrDi01", n.stuurgegevens)
    x.opt(obj, Z + "omschrijving", n.omschrijving)
    x.extra_elementen(obj, {EXTRA_TOEZICHTSOORT: n.toezichtsoort, **n.extra})
    _zaaktype(obj, "Signaal behandelen")
    rel = x.sub(obj, Z + "heeftBetrekkingOp", **{ENT: "ZAKOBJ"})
    x.persoon(x.sub(rel, Z + "gerelateerde", **{ENT: "OBJ"}), n.jeugdige, fields=x.PERSOON_NAW)
    x.sub(rel, Z + "omschrijving", "jeugdige")
    if n.initiator is not None or n.contactpersoon is not None:
        _initiator(obj, n.initiator, n.contactpersoon, required_contact=False)
    return _serialise(root, SCHEMA_JZ)


def render_zorgmelding(z: Zorgmelding) -> bytes:
    """``zorgmeldingDi01`` (the mock sends these; validated)."""
    import base64

    root, obj = _di01("zorgmeldingDi01", z.stuurgegevens)
    kenmerk = x.sub(obj, Z + "kenmerk")
    x.sub(kenmerk, Z + "kenmerk", z.kenmerk)
    x.sub(kenmerk, Z + "bron", "Zorgmelding")
    x.extra_elementen(obj, z.extra)
    _zaaktype(obj, "Signaal behandelen")
    if z.jeugdige is not None:
        rel = x.sub(obj, Z + "heeftBetrekkingOp", **{ENT: "ZAKOBJ"})
        x.persoon(x.sub(rel, Z + "gerelateerde", **{ENT: "OBJ"}), z.jeugdige, fields=x.PERSOON_FULL)
        x.sub(rel, Z + "omschrijving", "jeugdige")
    for b in z.belanghebbenden:
        rel = x.sub(obj, Z + "heeftAlsBelanghebbende", **{ENT: "ZAKBTRBLH"})
        x.belanghebbende_gerelateerde(rel, b, persoon_fields=x.PERSOON_FULL, vestiging_fields=True)
        x.sub(rel, Z + "omschrijving", b.rol)
    _initiator(obj, z.initiator, z.contactpersoon, required_contact=True)
    rel = x.sub(obj, Z + "heeftRelevant", **{ENT: "ZAKEDC"})
    edc = x.sub(rel, Z + "gerelateerde", **{ENT: "EDC"})
    x.sub(edc, Z + "dct.omschrijving", "Zorgmelding")
    x.sub(edc, Z + "creatiedatum", x.stuf_date(z.document_creatiedatum))
    x.opt(edc, Z + "titel", z.document_titel)
    attrs = {f"{{{XMIME_NS}}}contentType": "application/pdf"}
    if z.document_bestandsnaam:
        attrs[S + "bestandsnaam"] = z.document_bestandsnaam
    x.sub(edc, Z + "inhoud", base64.b64encode(z.document).decode("ascii"), **attrs)
    return _serialise(root, SCHEMA_JZ)


def render_answer(answer: StufAnswer) -> bytes:
    """``Bv01Bericht``, ``Fo01Bericht`` or ``Fo03Bericht`` (validated)."""
    code = answer.stuurgegevens.berichtcode
    if code not in ("Bv01", "Fo01", "Fo03"):
        raise ValueError(f"berichtcode {code!r} is not an answer this subset renders")
    root = x.root(S + f"{code}Bericht")
    x.stuurgegevens(root, answer.stuurgegevens, local_ns=STUF_NS, functie=None)
    if code == "Bv01":
        for melding in answer.meldingen:
            x.sub(root, S + "melding", melding)
    else:
        fout = answer.fout or Fout(code="StUF058", omschrijving="onbekende fout")
        body = x.sub(root, S + "body")
        x.sub(body, S + "code", fout.code)
        x.sub(body, S + "plek", fout.plek)
        x.sub(body, S + "omschrijving", fout.omschrijving)
        x.opt(body, S + "details", fout.details)
    return _serialise(root, SCHEMA_STUF)


def _answer(
    berichtcode: str,
    received: Stuurgegevens,
    fout: Fout | None,
    referentienummer: str | None,
    tijdstip: datetime | None,
) -> StufAnswer:
    sg = received.answer(
        berichtcode=berichtcode,
        referentienummer=referentienummer or uuid.uuid4().hex[:40],
        tijdstip=tijdstip or datetime.now(UTC),
    )
    return StufAnswer(stuurgegevens=sg, fout=fout)


def bv01(
    received: Stuurgegevens, *, referentienummer: str | None = None, tijdstip: datetime | None = None
) -> StufAnswer:
    """The Bv01 accepting ``received`` (crossRefnummer = its referentienummer)."""
    return _answer("Bv01", received, None, referentienummer, tijdstip)


def fo01(
    received: Stuurgegevens,
    fout: Fout,
    *,
    referentienummer: str | None = None,
    tijdstip: datetime | None = None,
) -> StufAnswer:
    """The asynchronous Fo01 refusing ``received``."""
    return _answer("Fo01", received, fout, referentienummer, tijdstip)


def fo03(
    received: Stuurgegevens,
    fout: Fout,
    *,
    referentienummer: str | None = None,
    tijdstip: datetime | None = None,
) -> StufAnswer:
    """The synchronous Fo03 refusing ``received`` (e.g. StUF016 for a duplicate)."""
    return _answer("Fo03", received, fout, referentienummer, tijdstip)
