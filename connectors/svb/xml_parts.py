"""XML building blocks shared by the iPgb messages: acceptance of untrusted payloads,
header, names, addresses, products, periods and RetourCodes.

All elements of one message live in that message's namespace (the shared types are a
chameleon include, see ``schemas/ipgb-1.0/ipgb-typen.xsd``), so a :class:`Names` per
message kind is all the naming there is. The law is not in the namespace (one schema
serves both laws) but in the BerichtCode.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from lxml import etree

from connectors.istandaard.errors import PayloadRejected, mask_bsns, masked_violations
from connectors.istandaard.law import Law
from connectors.istandaard.model import Adres, Naam
from connectors.svb.model import PgbHeader
from connectors.svb.names import BERICHT_SUBVERSIE, BERICHT_VERSIE, XSD_VERSIE, Kind
from connectors.xml_input import XmlInputError, parse_xml
from connectors.xsd import SchemaValidationError, load_schema, violations

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
#: iPgb categories per law: Wmo 01-18, Jeugdwet 31-38 and 40-55 (the XSD allows the union).
_WMO_CATEGORIES = frozenset(f"{n:02d}" for n in range(1, 19))


class Names:
    """``n["Bsn"]`` -> ``"{urn:...:tkb}Bsn"`` for one message kind."""

    __slots__ = ("_prefix", "kind")

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self._prefix = "{" + kind.namespace + "}"

    def __getitem__(self, local: str) -> str:
        return self._prefix + local


@dataclass(frozen=True, slots=True)
class Accepted:
    law: Law
    root: etree._Element
    n: Names


def category_fits_law(categorie: str, law: Law) -> bool:
    return (categorie in _WMO_CATEGORIES) is (law is Law.WMO)


def accept(xml: bytes, kind: Kind) -> Accepted:
    """Parse untrusted ``xml`` as a ``kind`` message, validate it, and find its law.

    Any failure is a :class:`PayloadRejected` (StUF055) whose text holds no BSN.
    """
    try:
        root = parse_xml(xml)
    except XmlInputError as exc:
        raise PayloadRejected(f"payload is not acceptable XML: {exc}") from exc
    n = Names(kind)
    if root.tag != n["Bericht"]:
        raise PayloadRejected(f"root element is {str(root.tag)[:120]!r}, expected {n['Bericht']}")
    found = violations(load_schema(kind.schema_path), root)
    if found:
        first = mask_bsns(str(found[0]))
        more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
        raise PayloadRejected(
            f"iPgb {kind.value} does not validate against {kind.schema_path}: {first}{more}",
            violations=found,
        )
    code = required_text(root, n, "Header", "BerichtCode")
    law = kind.law_of_code(code)
    if law is None:  # the XSD enumerates the codes; kept for a replaced schema
        raise PayloadRejected(f"BerichtCode {code[:5]!r} is not an iPgb {kind.value}")
    return Accepted(law, root, n)


def assert_rendered_valid(kind: Kind, root: etree._Element) -> None:
    """A document the project built must meet its schema before it leaves (BSNs masked)."""
    found = violations(load_schema(kind.schema_path), root)
    if found:
        raise SchemaValidationError(kind.schema_path, masked_violations(found))


def serialize(root: etree._Element) -> bytes:
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8")


# --- building ---------------------------------------------------------------------------


def new_root(n: Names) -> etree._Element:
    return etree.Element(n["Bericht"], nsmap={n.kind.prefix: n.kind.namespace})


def sub(parent: etree._Element, tag: str, value: str | int | date | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if value is not None:
        element.text = value.isoformat() if isinstance(value, date) else str(value)
    return element


def sub_opt(parent: etree._Element, tag: str, value: str | int | date | None) -> None:
    if value is not None and value != "":
        sub(parent, tag, value)


def build_header(root: etree._Element, n: Names, header: PgbHeader) -> etree._Element:
    element = sub(root, n["Header"])
    sub(element, n["BerichtCode"], n.kind.bericht_code(header.law))
    sub(element, n["BerichtVersie"], BERICHT_VERSIE)
    sub(element, n["BerichtSubversie"], BERICHT_SUBVERSIE)
    sub(element, n["Afzender"], header.afzender)
    sub(element, n["Ontvanger"], header.ontvanger)
    ident = sub(element, n["BerichtIdentificatie"])
    sub(ident, n["Identificatie"], header.identificatie)
    sub(ident, n["Dagtekening"], header.dagtekening)
    build_xsd_versie(element, n, "XsdVersie")
    return element


def build_xsd_versie(parent: etree._Element, n: Names, tag: str) -> None:
    versie = sub(parent, n[tag])
    sub(versie, n["BasisschemaXsdVersie"], XSD_VERSIE)
    sub(versie, n["BerichtXsdVersie"], XSD_VERSIE)


def build_retour_header(
    root: etree._Element,
    n: Names,
    heen: PgbHeader,
    identificatie_retour: str,
    dagtekening_retour: date,
    codes: Iterable[str],
) -> None:
    """A retour's header: the heenbericht's header (Afzender/Ontvanger unchanged) plus the retour's own."""
    element = build_header(root, n, heen)
    sub(element, n["IdentificatieRetour"], identificatie_retour)
    sub(element, n["DagtekeningRetour"], dagtekening_retour)
    build_xsd_versie(element, n, "XsdVersieRetour")
    build_retourcodes(element, n, codes)


def build_retourcodes(parent: etree._Element, n: Names, codes: Iterable[str]) -> None:
    listed = list(codes)
    if listed:
        element = sub(parent, n["RetourCodes"])
        for code in listed:
            sub(element, n["RetourCode"], code)


def build_naam(parent: etree._Element, n: Names, naam: Naam) -> None:
    element = sub(parent, n["Naam"])
    sub(element, n["Achternaam"], naam.achternaam)
    sub_opt(element, n["Voorvoegsel"], naam.voorvoegsel)
    sub_opt(element, n["Voornamen"], naam.voornamen)
    sub_opt(element, n["Voorletters"], naam.voorletters)


def build_adres(parent: etree._Element, n: Names, adres: Adres) -> None:
    element = sub(parent, n["Adres"])
    sub_opt(element, n["Straatnaam"], adres.straatnaam)
    sub_opt(element, n["Huisnummer"], adres.huisnummer)
    sub_opt(element, n["Huisletter"], adres.huisletter)
    sub_opt(element, n["HuisnummerToevoeging"], adres.huisnummer_toevoeging)
    sub_opt(element, n["Postcode"], adres.postcode)
    sub(element, n["Plaatsnaam"], adres.plaatsnaam)
    sub_opt(element, n["LandCode"], adres.landcode)


def build_product(parent: etree._Element, n: Names, categorie: str, code: str | None) -> None:
    element = sub(parent, n["Product"])
    sub(element, n["Categorie"], categorie)
    sub_opt(element, n["Code"], code)


def build_periode(parent: etree._Element, n: Names, begin: date, eind: date) -> None:
    element = sub(parent, n["Periode"])
    sub(element, n["Begindatum"], begin)
    sub(element, n["Einddatum"], eind)


# --- reading (documents already validated) ------------------------------------------------


def find(parent: etree._Element, n: Names, *path: str) -> etree._Element | None:
    element: etree._Element | None = parent
    for local in path:
        if element is None:
            return None
        element = element.find(n[local])
    return element


def text(parent: etree._Element, n: Names, *path: str) -> str | None:
    element = find(parent, n, *path)
    if element is None or element.text is None:
        return None
    return element.text.strip()


def required_text(parent: etree._Element, n: Names, *path: str) -> str:
    value = text(parent, n, *path)
    if value is None:
        raise PayloadRejected(f"{'/'.join(path)} is missing")
    return value


def required_int(parent: etree._Element, n: Names, *path: str) -> int:
    return int(required_text(parent, n, *path))


def required_date(parent: etree._Element, n: Names, *path: str) -> date:
    return date.fromisoformat(required_text(parent, n, *path))


def read_header(root: etree._Element, n: Names, law: Law) -> PgbHeader:
    return PgbHeader(
        law=law,
        afzender=required_text(root, n, "Header", "Afzender"),
        ontvanger=required_text(root, n, "Header", "Ontvanger"),
        identificatie=required_text(root, n, "Header", "BerichtIdentificatie", "Identificatie"),
        dagtekening=required_date(root, n, "Header", "BerichtIdentificatie", "Dagtekening"),
    )


def read_retourcodes(parent: etree._Element | None, n: Names) -> tuple[str, ...]:
    if parent is None:
        return ()
    element = parent.find(n["RetourCodes"])
    if element is None:
        return ()
    return tuple((c.text or "").strip() for c in element.findall(n["RetourCode"]))


def read_naam(parent: etree._Element, n: Names) -> Naam:
    return Naam(
        achternaam=required_text(parent, n, "Naam", "Achternaam"),
        voorvoegsel=text(parent, n, "Naam", "Voorvoegsel"),
        voornamen=text(parent, n, "Naam", "Voornamen"),
        voorletters=text(parent, n, "Naam", "Voorletters"),
    )


def read_adres(parent: etree._Element, n: Names) -> Adres | None:
    if find(parent, n, "Adres") is None:
        return None
    huisnummer = text(parent, n, "Adres", "Huisnummer")
    return Adres(
        huisnummer=int(huisnummer) if huisnummer is not None else None,
        postcode=text(parent, n, "Adres", "Postcode"),
        straatnaam=text(parent, n, "Adres", "Straatnaam"),
        plaatsnaam=required_text(parent, n, "Adres", "Plaatsnaam"),
        huisletter=text(parent, n, "Adres", "Huisletter"),
        huisnummer_toevoeging=text(parent, n, "Adres", "HuisnummerToevoeging"),
        landcode=text(parent, n, "Adres", "LandCode") or "NL",
    )
