"""Element builders shared by the jz0100 renderers (order and namespaces per the XSD).

Children of ``stuurgegevens`` are StUF elements, of ``object`` ZKN elements, of a
natural person or vestiging BG elements, and ``extraElementen`` is StUF's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

from lxml import etree

from connectors.corv.model import Belanghebbende, Persoon, Stuurgegevens, Systeem
from connectors.corv.names import BG_NS, JZ_NS, NSMAP, STUF_NS, ZKN_NS

J = f"{{{JZ_NS}}}"
S = f"{{{STUF_NS}}}"
Z = f"{{{ZKN_NS}}}"
B = f"{{{BG_NS}}}"
ENTITEITTYPE = S + "entiteittype"


def stuf_date(value: date) -> str:
    """StUF ``Datum``: ``yyyymmdd``."""
    return value.strftime("%Y%m%d")


def stuf_tijdstip(moment: datetime) -> str:
    """StUF ``Tijdstip``: ``yyyymmddhhmmssfff`` (17 digits), in UTC."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return moment.strftime("%Y%m%d%H%M%S") + f"{moment.microsecond // 1000:03d}"


def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    child = etree.SubElement(parent, tag, attrs)
    if text is not None:
        child.text = text
    return child


def opt(parent: etree._Element, tag: str, text: str | None) -> None:
    """Add ``tag`` only when there is a value (optional elements are left out, not nil)."""
    if text is not None and text != "":
        sub(parent, tag, text)


def root(tag: str) -> etree._Element:
    return etree.Element(tag, nsmap=NSMAP)


def systeem(parent: etree._Element, tag: str, value: Systeem) -> None:
    el = sub(parent, S + tag)
    sub(el, S + "organisatie", value.organisatie)
    sub(el, S + "applicatie", value.applicatie)
    opt(el, S + "administratie", value.administratie)
    opt(el, S + "gebruiker", value.gebruiker)


def stuurgegevens(parent: etree._Element, sg: Stuurgegevens, *, local_ns: str, functie: str | None) -> None:
    """``stuurgegevens`` (in ``local_ns``: JZ for Di01s, StUF for answers)."""
    el = sub(parent, f"{{{local_ns}}}stuurgegevens")
    sub(el, S + "berichtcode", sg.berichtcode)
    systeem(el, "zender", sg.zender)
    systeem(el, "ontvanger", sg.ontvanger)
    sub(el, S + "referentienummer", sg.referentienummer)
    sub(el, S + "tijdstipBericht", stuf_tijdstip(sg.tijdstip))
    if sg.cross_refnummer is not None:
        sub(el, S + "crossRefnummer", sg.cross_refnummer)
    if functie is not None:
        sub(el, S + "functie", functie)


def extra_elementen(parent: etree._Element, values: Mapping[str, str]) -> None:
    el = sub(parent, S + "extraElementen")
    for name, value in values.items():
        sub(el, S + "extraElement", value, naam=name)


def persoon(parent: etree._Element, p: Persoon, *, fields: tuple[str, ...]) -> etree._Element:
    """``natuurlijkPersoon`` with the BG elements in ``fields`` (XSD order), those with a value."""
    el = sub(parent, Z + "natuurlijkPersoon", **{ENTITEITTYPE: "NPS"})
    values = {
        "inp.bsn": p.bsn,
        "anp.identificatie": p.anp_identificatie,
        "geslachtsnaam": p.geslachtsnaam,
        "voorvoegselGeslachtsnaam": p.voorvoegsel,
        "voorletters": p.voorletters,
        "voornamen": p.voornamen,
        "geslachtsaanduiding": p.geslachtsaanduiding,
        "geboortedatum": stuf_date(p.geboortedatum) if p.geboortedatum else None,
        "sub.telefoonnummer": p.telefoonnummer,
        "sub.emailadres": p.emailadres,
    }
    for name in fields:
        opt(el, B + name, values[name])
    return el


PERSOON_FULL = (
    "inp.bsn", "anp.identificatie", "geslachtsnaam", "voorvoegselGeslachtsnaam", "voorletters", "voornamen",
    "geslachtsaanduiding", "geboortedatum", "sub.telefoonnummer", "sub.emailadres",
)  # fmt: skip
PERSOON_NAW = (
    "inp.bsn", "geslachtsnaam", "voorvoegselGeslachtsnaam", "voorletters", "voornamen", "geslachtsaanduiding",
    "geboortedatum",
)  # fmt: skip
PERSOON_KORT = ("inp.bsn", "geslachtsnaam", "geboortedatum")


def belanghebbende_gerelateerde(
    parent: etree._Element, b: Belanghebbende, *, persoon_fields: tuple[str, ...], vestiging_fields: bool
) -> None:
    """``gerelateerde`` (BTR) of a belanghebbende: a natural person or a vestiging."""
    rel = sub(parent, Z + "gerelateerde", **{ENTITEITTYPE: "BTR"})
    if b.persoon is not None:
        persoon(rel, b.persoon, fields=persoon_fields)
    elif b.vestiging is not None:
        ves = sub(rel, Z + "vestiging", **{ENTITEITTYPE: "VES"})
        v = b.vestiging
        if vestiging_fields:
            opt(ves, B + "vestigingsNummer", v.vestigingsnummer)
            sub(ves, B + "handelsnaamVerkort", v.handelsnaam)
            opt(ves, B + "sub.telefoonnummer", v.telefoonnummer)
            opt(ves, B + "sub.emailadres", v.emailadres)
        else:
            sub(ves, B + "handelsnaamVerkort", v.handelsnaam)
    else:
        raise ValueError("a belanghebbende needs a persoon or a vestiging")


def text_of(el: etree._Element | None, path: str) -> str | None:
    """The stripped text at ``path`` (prefixes JZ/StUF/ZKN/BG), None when absent/empty."""
    if el is None:
        return None
    found = el.find(path, namespaces=NSMAP)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return value or None


def parse_date(text: str | None) -> date | None:
    if not text or len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def parse_tijdstip(text: str | None) -> datetime:
    """A StUF Tijdstip (8-17 digits) as UTC datetime (missing parts are zero)."""
    digits = (text or "").ljust(17, "0")
    try:
        year, month, day = int(digits[:4]), int(digits[4:6]) or 1, int(digits[6:8]) or 1
        hour, minute, second = int(digits[8:10]), int(digits[10:12]), int(digits[12:14])
        return datetime(year, month, day, hour, minute, second, int(digits[14:17]) * 1000, tzinfo=UTC)
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=UTC)


JZ_NS_URI = JZ_NS
