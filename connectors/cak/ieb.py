"""WMO405/407 (gemeente -> CAK) and their retours WMO406/408 as XML: render and parse.

Pure functions over :mod:`connectors.cak.model`, validated against the project's own
iEb model schemas in ``schemas/ieb-1.0/`` (the official ones are not public). What is
rendered is validated before it leaves (:class:`connectors.xsd.SchemaValidationError`,
BSNs masked); what is read is refused with :class:`PayloadRejected` (code ``StUF055``,
the GGk's "payload fails its XSD") when it is not XML, not the expected message, or not
valid. No message of either exception contains a BSN.

Retours follow the iWmo 3.2 levels: no codes (fully accepted) or header codes only
(0001) give a header-only retour; codes on a class (client, melding, voorziening) give
the whole content back with every class carrying its RetourCodes, 0200 where none was
given.
"""

from __future__ import annotations

from datetime import date

from lxml import etree

from connectors.cak.model import (
    ACCEPTED,
    BERICHT_CODES,
    BerichtRef,
    Melding,
    MeldingRetour,
    Regeling,
    Soort,
    Voorziening,
)
from connectors.istandaard.errors import PayloadRejected, mask_bsns, masked_violations
from connectors.istandaard.model_inbound import ClientKort, VerkorteNaam
from connectors.istandaard.xml_names import child, opt_date, required_text, sub, sub_opt, text, to_date
from connectors.xml_input import XmlInputError, parse_xml
from connectors.xsd import SchemaValidationError, load_schema, violations

ONTVANGER = "CAK"
BERICHT_VERSIE = "1"
BERICHT_SUBVERSIE = "0"
XSD_VERSIE = "1.0.0"
BASIS_NS = "http://www.istandaarden.nl/iwmo/3_2/basisschema/schema"
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def namespace(number: int) -> str:
    """The target namespace of message ``number`` (405-408) in the project's iEb model."""
    return f"urn:gemeente-gateway:model:ieb:1.0:wmo{number}"


def schema_path(number: int) -> str:
    return f"ieb-1.0/wmo{number}.xsd"


def _m(number: int, local: str) -> str:
    return f"{{{namespace(number)}}}{local}"


def _b(local: str) -> str:
    return f"{{{BASIS_NS}}}{local}"


# --- rendering ------------------------------------------------------------------------------


def render_melding(melding: Melding) -> bytes:
    """The WMO405 (eigen bijdrage) or WMO407 (beschermd wonen) of ``melding``, validated.

    A kostprijs is only carried by a WMO405; for a WMO407 it is left out.
    """
    number = melding.regeling.heen_number
    root = _new_root(number)
    _build_header(root, number, melding)
    _build_client(root, number, melding, None)
    return _finish(number, root)


def render_retour(
    melding: Melding,
    *,
    identificatie_retour: str,
    dagtekening_retour: date,
    header_codes: tuple[str, ...] | list[str] = (),
    client_codes: tuple[str, ...] | list[str] = (),
    melding_codes: tuple[str, ...] | list[str] = (),
    voorziening_codes: dict[int, tuple[str, ...]] | dict[int, list[str]] | None = None,
) -> bytes:
    """The CAK's WMO406/408 answer to ``melding`` (see the module docstring for the levels)."""
    number = melding.regeling.retour_number
    root = _new_root(number)
    header = _build_header(root, number, melding)
    sub(header, _m(number, "IdentificatieRetour"), identificatie_retour)
    sub(header, _m(number, "DagtekeningRetour"), dagtekening_retour.isoformat())
    _build_xsd_versie(header, _m(number, "XsdVersieRetour"))
    per_voorziening = voorziening_codes or {}
    class_level = bool(client_codes or melding_codes or any(per_voorziening.values()))
    if header_codes:
        _build_codes(header, number, header_codes)
    elif class_level:
        _build_client(
            root,
            number,
            melding,
            (tuple(client_codes), tuple(melding_codes), {k: tuple(v) for k, v in per_voorziening.items()}),
        )
    return _finish(number, root)


def _new_root(number: int) -> etree._Element:
    return etree.Element(
        _m(number, "Bericht"),
        nsmap={f"wmo{number}": namespace(number), "iwmo": BASIS_NS},
    )


def _build_xsd_versie(parent: etree._Element, tag: str) -> None:
    element = sub(parent, tag)
    sub(element, _b("BasisschemaXsdVersie"), XSD_VERSIE)
    sub(element, _b("BerichtXsdVersie"), XSD_VERSIE)


def _build_ref(parent: etree._Element, tag: str, ref: BerichtRef) -> None:
    element = sub(parent, tag)
    sub(element, _b("Identificatie"), ref.identificatie)
    sub(element, _b("Dagtekening"), ref.dagtekening.isoformat())


def _build_header(root: etree._Element, number: int, melding: Melding) -> etree._Element:
    header = sub(root, _m(number, "Header"))
    sub(header, _m(number, "BerichtCode"), BERICHT_CODES[number])
    sub(header, _m(number, "BerichtVersie"), BERICHT_VERSIE)
    sub(header, _m(number, "BerichtSubversie"), BERICHT_SUBVERSIE)
    sub(header, _m(number, "Afzender"), melding.afzender)
    sub(header, _m(number, "Ontvanger"), ONTVANGER)
    _build_ref(header, _m(number, "BerichtIdentificatie"), melding.bericht)
    _build_xsd_versie(header, _m(number, "XsdVersie"))
    if melding.herstel_van is not None:
        _build_ref(header, _m(number, "HerstelVan"), melding.herstel_van)
    return header


def _build_codes(parent: etree._Element, number: int, codes: tuple[str, ...] | list[str]) -> None:
    element = sub(parent, _m(number, "RetourCodes"))
    for code in codes:
        sub(element, _m(number, "RetourCode"), code)


_Levels = tuple[tuple[str, ...], tuple[str, ...], dict[int, tuple[str, ...]]]


def _build_client(root: etree._Element, number: int, melding: Melding, codes: _Levels | None) -> None:
    c = melding.client
    client = sub(root, _m(number, "Client"))
    sub(client, _m(number, "Bsn"), c.bsn)
    geboortedatum = sub(client, _m(number, "Geboortedatum"))
    sub(geboortedatum, _b("Datum"), c.geboortedatum.isoformat())
    sub_opt(geboortedatum, _b("DatumGebruik"), c.geboortedatum_gebruik)
    sub(client, _m(number, "Geslacht"), c.geslacht)
    naam = sub(client, _m(number, "Naam"))
    geslachtsnaam = sub(naam, _b("Geslachtsnaam"))
    sub(geslachtsnaam, _b("Achternaam"), c.naam.achternaam)
    sub_opt(geslachtsnaam, _b("Voorvoegsel"), c.naam.voorvoegsel)
    sub_opt(naam, _b("Voornamen"), c.naam.voornamen)
    sub_opt(naam, _b("Voorletters"), c.naam.voorletters)
    element = sub(client, _m(number, "Melding"))
    sub(element, _m(number, "Soort"), melding.soort.value)
    sub(element, _m(number, "Datum"), melding.datum.isoformat())
    voorzieningen = sub(element, _m(number, "Voorzieningen"))
    for v in melding.voorzieningen:
        _build_voorziening(voorzieningen, number, melding.regeling, v, codes)
    if codes is not None:
        _build_codes(element, number, codes[1] or (ACCEPTED,))
        _build_codes(client, number, codes[0] or (ACCEPTED,))


def _build_voorziening(
    parent: etree._Element, number: int, regeling: Regeling, v: Voorziening, codes: _Levels | None
) -> None:
    element = sub(parent, _m(number, "Voorziening"))
    sub(element, _m(number, "ToewijzingNummer"), str(v.toewijzingnummer))
    sub(element, _m(number, "Beschikkingnummer"), v.beschikkingnummer)
    product = sub(element, _m(number, "Product"))
    sub(product, _b("Categorie"), v.categorie)
    sub_opt(product, _b("Code"), v.code)
    sub(element, _m(number, "Leveringsvorm"), v.leveringsvorm)
    sub(element, _m(number, "Ingangsdatum"), v.ingangsdatum.isoformat())
    sub_opt(element, _m(number, "Einddatum"), None if v.einddatum is None else v.einddatum.isoformat())
    if regeling is Regeling.EIGEN_BIJDRAGE:
        sub_opt(element, _m(number, "Kostprijs"), None if v.kostprijs is None else str(v.kostprijs))
    if codes is not None:
        _build_codes(element, number, codes[2].get(v.toewijzingnummer) or (ACCEPTED,))


def _finish(number: int, root: etree._Element) -> bytes:
    path = schema_path(number)
    found = violations(load_schema(path), root)
    if found:
        raise SchemaValidationError(path, masked_violations(found))
    return _XML_DECLARATION + etree.tostring(root, encoding="UTF-8")


# --- parsing --------------------------------------------------------------------------------


def _accept(xml: bytes, numbers: tuple[int, ...]) -> tuple[int, etree._Element]:
    """Parse untrusted ``xml`` as one of ``numbers`` and validate it; else PayloadRejected."""
    try:
        root = parse_xml(xml)
    except XmlInputError as exc:
        raise PayloadRejected(f"payload is not acceptable XML: {exc}") from exc
    number = next((n for n in numbers if root.tag == _m(n, "Bericht")), None)
    if number is None:
        expected = " or ".join(_m(n, "Bericht") for n in numbers)
        raise PayloadRejected(f"root element is {repr(str(root.tag))[:200]}, expected {expected}")
    found = violations(load_schema(schema_path(number)), root)
    if found:
        more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
        raise PayloadRejected(
            f"WMO{number} does not validate against {schema_path(number)}: {mask_bsns(str(found[0]))}{more}",
            violations=found,
        )
    return number, root


def parse_melding(xml: bytes) -> Melding:
    """Read a WMO405 or WMO407 (which one follows from the namespace)."""
    number, root = _accept(xml, (405, 407))
    return _read_melding(root, number, Regeling.EIGEN_BIJDRAGE if number == 405 else Regeling.BESCHERMD_WONEN)


def parse_retour(xml: bytes) -> MeldingRetour:
    """Read a WMO406 or WMO408. A header-only retour has no client: its melding has only the header's data."""
    number, root = _accept(xml, (406, 408))
    regeling = Regeling.EIGEN_BIJDRAGE if number == 406 else Regeling.BESCHERMD_WONEN
    melding = _read_melding(root, number, regeling)
    header = child(root, _m(number, "Header"))
    assert header is not None  # required by the XSD
    client = child(root, _m(number, "Client"))
    client_codes: tuple[str, ...] = ()
    melding_codes: tuple[str, ...] = ()
    per_voorziening: dict[int, tuple[str, ...]] = {}
    if client is not None:
        client_codes = _codes(client, number)
        element = child(client, _m(number, "Melding"))
        assert element is not None
        melding_codes = _codes(element, number)
        voorzieningen = child(element, _m(number, "Voorzieningen"))
        assert voorzieningen is not None
        for v in voorzieningen.iterchildren(_m(number, "Voorziening")):
            per_voorziening[int(required_text(v, _m(number, "ToewijzingNummer")))] = _codes(v, number)
    return MeldingRetour(
        melding=melding,
        identificatie_retour=required_text(header, _m(number, "IdentificatieRetour")),
        dagtekening_retour=to_date(required_text(header, _m(number, "DagtekeningRetour"))),
        header_codes=_codes(header, number),
        client_codes=client_codes,
        melding_codes=melding_codes,
        voorziening_codes=per_voorziening,
    )


def read_retour_codes(xml: bytes) -> tuple[list[str], dict[int, tuple[str, ...]]]:
    """For the gateway's retour matching: (all codes, codes per ToewijzingNummer)."""
    retour = parse_retour(xml)
    return list(retour.all_codes()), dict(retour.voorziening_codes)


def _codes(element: etree._Element, number: int) -> tuple[str, ...]:
    codes = child(element, _m(number, "RetourCodes"))
    if codes is None:
        return ()
    return tuple((c.text or "").strip() for c in codes.iterchildren(_m(number, "RetourCode")))


def _ref(element: etree._Element | None) -> BerichtRef | None:
    if element is None:
        return None
    return BerichtRef(
        identificatie=required_text(element, _b("Identificatie")),
        dagtekening=to_date(required_text(element, _b("Dagtekening"))),
    )


_EMPTY_CLIENT = ClientKort(bsn="", geboortedatum=date.min, geslacht="0", naam=VerkorteNaam(achternaam=""))


def _read_melding(root: etree._Element, number: int, regeling: Regeling) -> Melding:
    header = child(root, _m(number, "Header"))
    assert header is not None  # required by the XSD
    bericht = _ref(child(header, _m(number, "BerichtIdentificatie")))
    assert bericht is not None
    client_element = child(root, _m(number, "Client"))
    common = {
        "regeling": regeling,
        "afzender": required_text(header, _m(number, "Afzender")),
        "bericht": bericht,
        "herstel_van": _ref(child(header, _m(number, "HerstelVan"))),
    }
    if client_element is None:  # a header-only retour
        return Melding(**common, client=_EMPTY_CLIENT, soort=Soort.START, datum=date.min, voorzieningen=())  # type: ignore[arg-type]
    element = child(client_element, _m(number, "Melding"))
    voorzieningen = child(element, _m(number, "Voorzieningen")) if element is not None else None
    assert element is not None and voorzieningen is not None  # required by the XSD
    return Melding(
        **common,  # type: ignore[arg-type]
        client=_read_client(client_element, number),
        soort=Soort(required_text(element, _m(number, "Soort"))),
        datum=to_date(required_text(element, _m(number, "Datum"))),
        voorzieningen=tuple(
            _read_voorziening(v, number) for v in voorzieningen.iterchildren(_m(number, "Voorziening"))
        ),
    )


def _read_client(element: etree._Element, number: int) -> ClientKort:
    geboortedatum = child(element, _m(number, "Geboortedatum"))
    naam = child(element, _m(number, "Naam"))
    assert geboortedatum is not None and naam is not None
    geslachtsnaam = child(naam, _b("Geslachtsnaam"))
    assert geslachtsnaam is not None
    return ClientKort(
        bsn=required_text(element, _m(number, "Bsn")),
        geboortedatum=to_date(required_text(geboortedatum, _b("Datum"))),
        geboortedatum_gebruik=text(geboortedatum, _b("DatumGebruik")),
        geslacht=required_text(element, _m(number, "Geslacht")),
        naam=VerkorteNaam(
            achternaam=required_text(geslachtsnaam, _b("Achternaam")),
            voorvoegsel=text(geslachtsnaam, _b("Voorvoegsel")),
            voornamen=text(naam, _b("Voornamen")),
            voorletters=text(naam, _b("Voorletters")),
        ),
    )


def _read_voorziening(element: etree._Element, number: int) -> Voorziening:
    product = child(element, _m(number, "Product"))
    assert product is not None
    kostprijs = text(element, _m(number, "Kostprijs"))
    return Voorziening(
        toewijzingnummer=int(required_text(element, _m(number, "ToewijzingNummer"))),
        beschikkingnummer=required_text(element, _m(number, "Beschikkingnummer")),
        categorie=required_text(product, _b("Categorie")),
        code=text(product, _b("Code")),
        leveringsvorm=required_text(element, _m(number, "Leveringsvorm")),
        ingangsdatum=to_date(required_text(element, _m(number, "Ingangsdatum"))),
        einddatum=opt_date(element, _m(number, "Einddatum")),
        kostprijs=None if kostprijs is None else int(kostprijs),
    )
