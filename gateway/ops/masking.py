"""Personal data in a payload, masked by element name for display.

An operator needs the structure of a message (which product, which dates, which codes)
far more often than who it is about. So a payload is shown pretty-printed with every
element below masked, text and descendants alike; only a privacy officer may see it
unmasked, and that reveal is audited (:func:`gateway.ops.detail.reveal_personal_data`).

Masked, matched on the local name (any namespace, case-insensitive):

- identity: ``Bsn``, ``BurgerServiceNummer``, ``inp.bsn``, ``Burgerservicenummer``
- names: ``Naam`` (the container and, to be safe, a verwijzer's name),
  ``Geslachtsnaam``, ``Achternaam``, ``Voornamen``, ``Voorletters``, ``Voorvoegsel``,
  ``Partnernaam``, ``Roepnaam``
- birth: ``Geboortedatum``, ``GeboorteDatum``
- address and contact: ``Adres``, ``Straatnaam``, ``Huisnummer``, ``Huisletter``,
  ``HuisnummerToevoeging``, ``Postcode``, ``Plaatsnaam``, ``Woonplaats``,
  ``Telefoon``, ``Telefoonnummer``, ``Emailadres``

A BSN is kept as its last four digits (``*****0006``) so that people can still tell
two clients apart; everything else becomes ``***``. As a last line of defence any
11-proef-valid 9-digit number left in the text is masked too.
"""

from __future__ import annotations

from lxml import etree

from gateway.bsn import mask, mask_in_text

BSN_ELEMENTS = frozenset({"bsn", "burgerservicenummer", "inp.bsn"})
PERSONAL_ELEMENTS = BSN_ELEMENTS | frozenset(
    {
        "naam",
        "geslachtsnaam",
        "achternaam",
        "voornamen",
        "voorletters",
        "voorvoegsel",
        "partnernaam",
        "roepnaam",
        "geboortedatum",
        "adres",
        "straatnaam",
        "huisnummer",
        "huisletter",
        "huisnummertoevoeging",
        "postcode",
        "plaatsnaam",
        "woonplaats",
        "telefoon",
        "telefoonnummer",
        "emailadres",
    }
)
MASK = "***"


def _local(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):  # comments, processing instructions
        return ""
    return etree.QName(tag).localname.lower()


def _mask_subtree(element: etree._Element, *, bsn: bool) -> None:
    for node in element.iter():
        if node.text and node.text.strip():
            node.text = mask(node.text.strip()) if bsn and node is element else MASK
        for name in list(node.attrib):
            node.attrib[name] = MASK


def pretty(xml: bytes | None, *, masked: bool = True) -> str:
    """The payload indented for reading; personal data masked unless ``masked=False``.

    Not well-formed input is shown as text (masked BSN-like numbers), never raised:
    a broken payload is exactly what an operator may need to look at.
    """
    if not xml:
        return ""
    try:
        parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError:
        text = xml.decode("utf-8", errors="replace")
        return mask_in_text(text) if masked else text
    if masked:
        for element in list(root.iter()):
            name = _local(element)
            if name in PERSONAL_ELEMENTS:
                _mask_subtree(element, bsn=name in BSN_ELEMENTS)
    text = etree.tostring(root, pretty_print=True, encoding="unicode")
    return mask_in_text(text) if masked else text


def find_bsn(xml: bytes | None) -> str | None:
    """The first BSN element's value in a payload (for a reveal when no beschikking holds it)."""
    if not xml:
        return None
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError:
        return None
    for element in root.iter():
        if _local(element) in BSN_ELEMENTS and element.text and element.text.strip():
            return element.text.strip()
    return None
