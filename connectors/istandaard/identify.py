"""Which iJw/iWmo 3.2 message a payload is, before it is parsed as that message.

The GGk envelope names a ``functie`` (JW305, WMO323 ...), but the payload itself is what
counts: :func:`identify` reads the root element's namespace, which names both the law and
the message number, so that the gateway can dispatch to the right parser (which then
validates the document in full). Anything that is not the ``Bericht`` of a known message
is refused as the transport refuses a payload that fails its XSD (StUF055).
"""

from __future__ import annotations

from lxml import etree

from connectors.istandaard.errors import PayloadRejected
from connectors.istandaard.law import Law
from connectors.xml_input import XmlInputError, parse_xml

#: Every message of iJw/iWmo 3.2 that the gateway sends or receives, retours included.
MESSAGE_NUMBERS: tuple[int, ...] = (301, 302, 305, 306, 307, 308, 315, 316, 317, 318, 319, 320, 323, 325)

#: Root element name -> (law, message number). Building it asks each law for the message's
#: BerichtCode, so a number the law does not define fails at import rather than at run time.
_ROOTS: dict[str, tuple[Law, int]] = {
    f"{{{law.message_namespace(number)}}}Bericht": (law, number)
    for law in Law
    for number in MESSAGE_NUMBERS
    if law.bericht_code(number)
}


def identify(xml: bytes) -> tuple[Law, int]:
    """The (law, message number) of the payload ``xml``, from its root element.

    Raises :class:`PayloadRejected` when ``xml`` is not acceptable XML (not well-formed, a
    DOCTYPE, too large or deep) or its root is not the ``Bericht`` of a known message.
    """
    try:
        root = parse_xml(xml)
    except XmlInputError as exc:
        raise PayloadRejected(f"payload is not acceptable XML: {exc}") from exc
    return identify_root(root)


def identify_root(root: etree._Element) -> tuple[Law, int]:
    """:func:`identify` for a document that is already parsed (with ``parse_xml``)."""
    found = _ROOTS.get(str(root.tag))
    if found is None:
        # Only the qualified name, cut short: it is payload content, but never a BSN.
        raise PayloadRejected(
            f"root element {str(root.tag)[:200]!r} is not the Bericht of an iJw/iWmo 3.2 message"
        )
    return found
