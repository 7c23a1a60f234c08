"""The ``vtoDi01``: built as a small skeleton, streamed out with its documents.

A VTO carries up to four documents of up to 21 MB each, base64 inline in ``inhoud``
(the XSD allows nothing else). The skeleton - everything but the document bytes - is
an ordinary lxml tree that is validated against our XSD (with empty ``inhoud``); the
output is then written with ``lxml.etree.xmlfile``, each document read and encoded in
chunks of a multiple of 3 bytes, so memory use stays at one chunk whatever the size.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from connectors.corv import xml_parts as x
from connectors.corv.errors import StufError
from connectors.corv.model import (
    EXTRA_URGENTIE,
    MAX_DOCUMENT_BYTES,
    ROLLEN_VTO,
    Document,
    DocumentSoort,
    Vto,
)
from connectors.corv.names import NSMAP, SCHEMA_JZ, XMIME_NS
from connectors.corv.validation import validate

Z, S, B, J = x.Z, x.S, x.B, x.J
ENT = x.ENTITEITTYPE
#: The project's own StUF foutcode for a VTO that breaks a CORV business rule (the XSD
#: cannot express "exactly one Verzoek tot onderzoek RvdK").
CORV_RULE = "CORV01"
_CHUNK = 3 * 64 * 1024  # a multiple of 3: base64 of consecutive chunks concatenates


def _document_size(doc: Document) -> int | None:
    if isinstance(doc.content, bytes):
        return len(doc.content)
    if isinstance(doc.content, Path):
        return doc.content.stat().st_size
    return None


def check_rules(vto: Vto) -> None:
    """CORV's rules beyond the XSD: exactly one "Verzoek tot onderzoek RvdK", at least
    one child, documents within the size limit, known roles, unborn child without BSN."""
    verzoeken = sum(1 for d in vto.documenten if d.soort == DocumentSoort.VERZOEK_TOT_ONDERZOEK)
    if verzoeken != 1:
        raise StufError(
            f"a VTO needs exactly one document 'Verzoek tot onderzoek RvdK', it has {verzoeken}",
            code=CORV_RULE,
        )
    if not vto.kinderen:
        raise StufError("a VTO needs at least one child", code=CORV_RULE)
    for index, kind in enumerate(vto.kinderen, 1):
        if kind.ongeboren and kind.persoon.bsn:
            raise StufError(f"child {index} is unborn and cannot have a BSN", code=CORV_RULE)
        if not kind.ongeboren and not kind.persoon.bsn:
            raise StufError(f"child {index} needs a BSN (or is unborn)", code=CORV_RULE)
    for index, b in enumerate(vto.belanghebbenden, 1):
        if b.rol not in ROLLEN_VTO:
            raise StufError(f"belanghebbende {index} has an unknown role {b.rol[:40]!r}", code=CORV_RULE)
    for doc in vto.documenten:
        size = _document_size(doc)
        if size is not None and size > MAX_DOCUMENT_BYTES:
            raise StufError(
                f"document {doc.identificatie[:40]!r} is {size} bytes, the limit is {MAX_DOCUMENT_BYTES}",
                code=CORV_RULE,
            )


def _skeleton(vto: Vto) -> etree._Element:
    """The whole vtoDi01 with an empty ``inhoud`` in every document."""
    root = x.root(J + "vtoDi01")
    x.stuurgegevens(root, vto.stuurgegevens, local_ns=x.JZ_NS_URI, functie="vtoDi01")
    obj = x.sub(root, J + "object", **{ENT: "ZAK"})
    x.sub(obj, Z + "identificatie", vto.zaak_identificatie)
    x.opt(obj, Z + "omschrijving", vto.omschrijving)
    x.sub(obj, Z + "startdatum", x.stuf_date(vto.startdatum))
    x.sub(obj, Z + "registratiedatum", x.stuf_date(vto.registratiedatum))
    x.extra_elementen(obj, {EXTRA_URGENTIE: str(vto.urgentie)})
    rel = x.sub(obj, Z + "isVan", **{ENT: "ZAKZKT"})
    x.sub(
        x.sub(rel, Z + "gerelateerde", **{ENT: "ZKT"}),
        Z + "omschrijvingGeneriek",
        "Overwegen kinderbeschermingsmaatregel",
    )
    for kind in vto.kinderen:
        rel = x.sub(obj, Z + "heeftBetrekkingOp", **{ENT: "ZAKOBJ"})
        x.persoon(x.sub(rel, Z + "gerelateerde", **{ENT: "OBJ"}), kind.persoon, fields=x.PERSOON_FULL)
        x.sub(rel, Z + "omschrijving", "Client (ongeboren kind)" if kind.ongeboren else "Client (kind)")
    for b in vto.belanghebbenden:
        rel = x.sub(obj, Z + "heeftAlsBelanghebbende", **{ENT: "ZAKBTRBLH"})
        x.belanghebbende_gerelateerde(rel, b, persoon_fields=x.PERSOON_FULL, vestiging_fields=True)
        x.opt(rel, Z + "code", b.code)
        x.sub(rel, Z + "omschrijving", b.rol)
    u = vto.uitvoerende
    rel = x.sub(obj, Z + "heeftAlsUitvoerende", **{ENT: "ZAKBTRUTV"})
    btr = x.sub(rel, Z + "gerelateerde", **{ENT: "BTR"})
    mdw = x.sub(btr, Z + "medewerker", **{ENT: "MDW"})
    x.sub(mdw, Z + "achternaam", u.achternaam)
    x.opt(mdw, Z + "voorletters", u.voorletters)
    x.opt(mdw, Z + "functie", u.functie)
    x.opt(mdw, Z + "telefoonnummer", u.telefoonnummer)
    x.opt(mdw, Z + "emailadres", u.emailadres)
    nnp = x.sub(btr, Z + "nietNatuurlijkPersoon", **{ENT: "NNP"})
    x.sub(nnp, B + "statutaireNaam", u.organisatie)
    rel = x.sub(obj, Z + "heeftBetrekkingOpAndere", **{ENT: "ZAKZAKBTR"})
    zaak = x.sub(rel, Z + "gerelateerde", **{ENT: "ZAK"})
    zkt_rel = x.sub(zaak, Z + "isVan", **{ENT: "ZAKZKT"})
    zkt = x.sub(zkt_rel, Z + "gerelateerde", **{ENT: "ZKT"})
    x.sub(zkt, Z + "omschrijvingGeneriek", "Uitvoeren onderzoek kinderbeschermingsmaatregel")
    for doc in vto.documenten:
        rel = x.sub(obj, Z + "heeftRelevant", **{ENT: "ZAKEDC"})
        edc = x.sub(rel, Z + "gerelateerde", **{ENT: "EDC"})
        x.sub(edc, Z + "identificatie", doc.identificatie)
        x.sub(edc, Z + "dct.omschrijving", str(doc.soort))
        x.sub(edc, Z + "creatiedatum", x.stuf_date(doc.creatiedatum))
        x.opt(edc, Z + "titel", doc.titel)
        x.opt(edc, Z + "vertrouwelijkAanduiding", doc.vertrouwelijkheid)
        x.opt(edc, Z + "auteur", doc.auteur)
        x.sub(
            edc,
            Z + "inhoud",
            "",
            **{S + "bestandsnaam": doc.bestandsnaam, f"{{{XMIME_NS}}}contentType": doc.mime_type},
        )
    return root


def check_vto(vto: Vto) -> None:
    """Raise :class:`StufError` when the VTO breaks a CORV rule (code ``CORV01``) or
    our XSD (``StUF055``); nothing is rendered."""
    check_rules(vto)
    validate(_skeleton(vto), SCHEMA_JZ)


def _base64_chunks(doc: Document) -> Iterator[str]:
    source = doc.content
    if isinstance(source, bytes):
        stream: BinaryIO = io.BytesIO(source)
    elif isinstance(source, Path):
        stream = source.open("rb")
    else:
        stream = source
    try:
        total = 0
        pending = b""
        while True:
            data = stream.read(_CHUNK)
            if not data:
                break
            total += len(data)
            if total > MAX_DOCUMENT_BYTES:
                raise StufError(
                    f"document {doc.identificatie[:40]!r} is over the limit of {MAX_DOCUMENT_BYTES} bytes",
                    code=CORV_RULE,
                )
            pending += data
            usable = len(pending) - len(pending) % 3
            if usable:
                yield base64.b64encode(pending[:usable]).decode("ascii")
                pending = pending[usable:]
        if pending:
            yield base64.b64encode(pending).decode("ascii")
    finally:
        if isinstance(source, Path):
            stream.close()


def render_vto(vto: Vto, out: BinaryIO, *, check: bool = True) -> None:
    """Write the ``vtoDi01`` to ``out`` (a binary file), streaming the documents.

    Checked first (rules + XSD on the skeleton) unless ``check=False``; a document
    stream that turns out larger than the limit raises :class:`StufError` midway (the
    caller discards the partial output).
    """
    if check:
        check_rules(vto)
    skeleton = _skeleton(vto)
    if check:  # as check_vto, on the skeleton written below (built once)
        validate(skeleton, SCHEMA_JZ)
    stuurgegevens, obj = skeleton[0], skeleton[1]
    relevant = obj.findall(Z + "heeftRelevant")
    # unbuffered: a buffered xmlfile keeps everything written to a Python file until close
    with etree.xmlfile(out, encoding="UTF-8", buffered=False) as xf:
        xf.write_declaration()
        with xf.element(J + "vtoDi01", nsmap=NSMAP):
            xf.write(stuurgegevens)
            with xf.element(J + "object", {ENT: "ZAK"}):
                for child in obj:
                    if child.tag != Z + "heeftRelevant":
                        xf.write(child)
                for rel, doc in zip(relevant, vto.documenten, strict=True):
                    _write_document(xf, rel, doc)


def _write_document(xf: etree._IncrementalFileWriter, rel: etree._Element, doc: Document) -> None:
    edc = rel[0]
    inhoud = edc[-1]
    with xf.element(rel.tag, _attrs(rel)), xf.element(edc.tag, _attrs(edc)):
        for child in edc:
            if child is not inhoud:
                xf.write(child)
        with xf.element(inhoud.tag, _attrs(inhoud)):
            for chunk in _base64_chunks(doc):
                xf.write(chunk)


def _attrs(element: etree._Element) -> dict[str, str]:
    return {str(key): str(value) for key, value in element.attrib.items()}


def render_vto_bytes(vto: Vto, *, check: bool = True) -> bytes:
    """The ``vtoDi01`` in memory (tests, small documents)."""
    out = io.BytesIO()
    render_vto(vto, out, check=check)
    return out.getvalue()
