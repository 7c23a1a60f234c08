"""Element names and basisschema building blocks shared by every iJw/iWmo 3.2 message.

Every message puts its own elements in its message namespace (``.../jw301/schema``) and
the composite basisschema types' children (``Datum``, ``Achternaam``, ``Volume`` ...) in
the basisschema namespace. :func:`tags` builds the Clark-notation names of one message
once and caches them, so that rendering thousands of messages (the year-change peak
re-issues every toewijzing) does no string formatting per element.

The ``build_*`` functions append a basisschema composite (CDT_*) to a parent element;
the ``read_*`` functions turn one back into model data. Readers assume the document has
already been validated against its XSD: they do not re-check cardinalities.
"""

from __future__ import annotations

from datetime import date, time
from functools import cache

from lxml import etree

from connectors.istandaard.law import Law
from connectors.istandaard.model import Adres, Naam, Omvang, Product

BERICHT_VERSIE = "3"
BERICHT_SUBVERSIE = "2"
#: The CDT_XsdVersie the project's own schemas implement (both parts).
XSD_VERSIE = "1.0.0"


class _Names(dict[str, str]):
    """``names["Bsn"]`` -> ``"{namespace}Bsn"``, computed on first use and then cached."""

    __slots__ = ("_prefix",)

    def __init__(self, namespace: str) -> None:
        super().__init__()
        self._prefix = "{" + namespace + "}"

    def __missing__(self, local: str) -> str:
        name = self[local] = self._prefix + local
        return name


class Tags:
    """The names of one message type: ``m`` for message elements, ``b`` for basisschema ones."""

    __slots__ = ("b", "law", "m", "message_namespace", "nsmap", "number")

    def __init__(self, law: Law, number: int) -> None:
        self.law = law
        self.number = number
        self.message_namespace = law.message_namespace(number)
        self.m = _Names(self.message_namespace)
        self.b = _Names(law.basis_namespace())
        # The prefixes the published examples use: jw301/ijw, wmo301/iwmo.
        self.nsmap: dict[str, str] = {
            f"{law.message_prefix}{number}": self.message_namespace,
            law.standard: law.basis_namespace(),
        }


@cache
def tags(law: Law, number: int) -> Tags:
    """The (cached) names of message ``number`` under ``law``."""
    return Tags(law, number)


def law_of(root: etree._Element, number: int) -> Law | None:
    """The law whose message ``number`` has ``root`` as its ``Bericht``, or None."""
    for law in Law:
        if root.tag == tags(law, number).m["Bericht"]:
            return law
    return None


def sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    """Append ``<tag>text</tag>`` to ``parent``."""
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def sub_opt(parent: etree._Element, tag: str, text: str | None) -> None:
    """Append ``<tag>text</tag>`` only when ``text`` is given: optional elements are omitted."""
    if text is not None:
        etree.SubElement(parent, tag).text = text


# --- building -------------------------------------------------------------------------


def build_bericht_identificatie(
    parent: etree._Element, tag: str, t: Tags, identificatie: str, dagtekening: date
) -> None:
    element = sub(parent, tag)
    sub(element, t.b["Identificatie"], identificatie)
    sub(element, t.b["Dagtekening"], dagtekening.isoformat())


def build_xsd_versie(parent: etree._Element, tag: str, t: Tags, basisschema: str, bericht: str) -> None:
    element = sub(parent, tag)
    sub(element, t.b["BasisschemaXsdVersie"], basisschema)
    sub(element, t.b["BerichtXsdVersie"], bericht)


def build_geboortedatum(parent: etree._Element, tag: str, t: Tags, datum: date, gebruik: str | None) -> None:
    element = sub(parent, tag)
    sub(element, t.b["Datum"], datum.isoformat())
    sub_opt(element, t.b["DatumGebruik"], gebruik)


def build_naam(parent: etree._Element, tag: str, t: Tags, naam: Naam) -> None:
    b = t.b
    element = sub(parent, tag)
    geslachtsnaam = sub(element, b["Geslachtsnaam"])
    sub(geslachtsnaam, b["Achternaam"], naam.achternaam)
    sub_opt(geslachtsnaam, b["Voorvoegsel"], naam.voorvoegsel)
    if naam.partner_achternaam is not None:
        partnernaam = sub(element, b["Partnernaam"])
        sub(partnernaam, b["Achternaam"], naam.partner_achternaam)
        sub_opt(partnernaam, b["Voorvoegsel"], naam.partner_voorvoegsel)
    sub_opt(element, b["Voornamen"], naam.voornamen)
    sub_opt(element, b["Voorletters"], naam.voorletters)
    sub(element, b["NaamGebruik"], naam.naamgebruik)


def build_adres(parent: etree._Element, tag: str, t: Tags, adres: Adres) -> None:
    """CDT_Adres. ``Huis`` needs a huisnummer, so huisletter etc. go only with one."""
    b = t.b
    element = sub(parent, tag)
    if adres.huisnummer is not None:
        huis = sub(element, b["Huis"])
        sub(huis, b["Huisnummer"], str(adres.huisnummer))
        sub_opt(huis, b["Huisletter"], adres.huisletter)
        sub_opt(huis, b["HuisnummerToevoeging"], adres.huisnummer_toevoeging)
        sub_opt(huis, b["AanduidingWoonadres"], adres.aanduiding_woonadres)
    sub_opt(element, b["Postcode"], adres.postcode)
    sub_opt(element, b["Straatnaam"], adres.straatnaam)
    # The model requires a plaatsnaam, the standard does not: "" stands for "absent".
    sub_opt(element, b["Plaatsnaam"], adres.plaatsnaam or None)
    sub_opt(element, b["LandCode"], adres.landcode or None)


def build_telefoon(parent: etree._Element, tag: str, t: Tags, numbers: tuple[tuple[str, str], ...]) -> None:
    """CDT_Telefoonnummers from (nummer, landnummer) pairs, at most two."""
    element = sub(parent, tag)
    for local, (nummer, landnummer) in zip(("Telefoon01", "Telefoon02"), numbers, strict=False):
        telefoon = sub(element, t.b[local])
        sub(telefoon, t.b["Telefoonnummer"], nummer)
        sub(telefoon, t.b["Landnummer"], landnummer)


def build_product(parent: etree._Element, tag: str, t: Tags, product: Product) -> None:
    element = sub(parent, tag)
    sub(element, t.b["Categorie"], product.categorie)
    sub_opt(element, t.b["Code"], product.code)


def build_omvang(parent: etree._Element, tag: str, t: Tags, omvang: Omvang) -> None:
    element = sub(parent, tag)
    sub(element, t.b["Volume"], str(omvang.volume))
    sub(element, t.b["Eenheid"], omvang.eenheid)
    sub(element, t.b["Frequentie"], omvang.frequentie)


def build_retourcodes(parent: etree._Element, t: Tags, codes: tuple[str, ...] | list[str]) -> None:
    """A message-level ``RetourCodes`` block (retour messages only)."""
    element = sub(parent, t.m["RetourCodes"])
    code_tag = t.m["RetourCode"]
    for code in codes:
        sub(element, code_tag, code)


# --- reading --------------------------------------------------------------------------


def child(parent: etree._Element, tag: str) -> etree._Element | None:
    """The first child named ``tag``: a direct child scan, about twice as fast as ``find``."""
    return next(parent.iterchildren(tag), None)


def text(parent: etree._Element, tag: str) -> str | None:
    """The text of the child ``tag`` ("" for an empty one), or None when it is absent."""
    element = child(parent, tag)
    if element is None:
        return None
    return element.text or ""


def required_text(parent: etree._Element, tag: str) -> str:
    """The text of a child the XSD requires; a missing one means the caller skipped validation."""
    value = text(parent, tag)
    if value is None:
        raise ValueError(f"required element {tag} is missing (document not validated?)")
    return value


def to_date(value: str) -> date:
    return date.fromisoformat(value.strip())


def opt_date(parent: etree._Element, tag: str) -> date | None:
    value = text(parent, tag)
    return None if value is None else to_date(value)


def to_time(value: str) -> time:
    return time.fromisoformat(value.strip())


def opt_int(parent: etree._Element, tag: str) -> int | None:
    value = text(parent, tag)
    return None if value is None else int(value)


def read_geboortedatum(element: etree._Element, t: Tags) -> tuple[date, str | None]:
    return to_date(required_text(element, t.b["Datum"])), text(element, t.b["DatumGebruik"])


def read_naam(element: etree._Element, t: Tags) -> Naam:
    b = t.b
    geslachtsnaam = child(element, b["Geslachtsnaam"])
    partnernaam = child(element, b["Partnernaam"])
    assert geslachtsnaam is not None  # required by the XSD
    return Naam(
        achternaam=required_text(geslachtsnaam, b["Achternaam"]),
        voorvoegsel=text(geslachtsnaam, b["Voorvoegsel"]),
        voornamen=text(element, b["Voornamen"]),
        voorletters=text(element, b["Voorletters"]),
        naamgebruik=required_text(element, b["NaamGebruik"]),
        partner_achternaam=None if partnernaam is None else required_text(partnernaam, b["Achternaam"]),
        partner_voorvoegsel=None if partnernaam is None else text(partnernaam, b["Voorvoegsel"]),
    )


def read_adres(element: etree._Element, t: Tags) -> Adres:
    b = t.b
    huis = child(element, b["Huis"])
    return Adres(
        huisnummer=None if huis is None else int(required_text(huis, b["Huisnummer"])),
        huisletter=None if huis is None else text(huis, b["Huisletter"]),
        huisnummer_toevoeging=None if huis is None else text(huis, b["HuisnummerToevoeging"]),
        aanduiding_woonadres=None if huis is None else text(huis, b["AanduidingWoonadres"]),
        postcode=text(element, b["Postcode"]),
        straatnaam=text(element, b["Straatnaam"]),
        plaatsnaam=text(element, b["Plaatsnaam"]) or "",
        landcode=text(element, b["LandCode"]) or "",
    )


def read_telefoon(element: etree._Element, t: Tags) -> list[tuple[str, str]]:
    numbers = []
    for local in ("Telefoon01", "Telefoon02"):
        telefoon = child(element, t.b[local])
        if telefoon is not None:
            numbers.append(
                (required_text(telefoon, t.b["Telefoonnummer"]), required_text(telefoon, t.b["Landnummer"]))
            )
    return numbers


def read_product(element: etree._Element, t: Tags) -> Product:
    return Product(categorie=required_text(element, t.b["Categorie"]), code=text(element, t.b["Code"]))


def read_omvang(element: etree._Element, t: Tags) -> Omvang:
    b = t.b
    return Omvang(
        volume=int(required_text(element, b["Volume"])),
        eenheid=required_text(element, b["Eenheid"]),
        frequentie=required_text(element, b["Frequentie"]),
    )


def read_retourcodes(parent: etree._Element, t: Tags) -> tuple[str, ...]:
    """The codes of ``parent``'s own ``RetourCodes`` child (not of its descendants)."""
    element = child(parent, t.m["RetourCodes"])
    if element is None:
        return ()
    return tuple((code.text or "").strip() for code in element.iterchildren(t.m["RetourCode"]))
