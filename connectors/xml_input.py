"""Parsing of XML that crosses a trust boundary.

Every XML document the gateway reads - from a chain party, a mock or a test - goes
through :func:`parse_xml`, so that entity expansion, DTD loading and network access are
off everywhere and size and depth are bounded in one place.
"""

from __future__ import annotations

import threading

from lxml import etree

#: The GGk limit for a whole envelope (IB003/IB007); payloads are smaller still.
MAX_XML_BYTES = 25 * 1024 * 1024
#: Deeper nesting than this never occurs in the chain's messages.
MAX_XML_DEPTH = 64


class XmlInputError(ValueError):
    """The bytes are not acceptable XML: too large, not well-formed, or too deep."""


class HostileXmlError(XmlInputError):
    """XML that no chain message ever is and that attacks a parser: a DOCTYPE (entities,
    XXE, billion laughs), excessive nesting or size. Refused before anything is stored."""


_per_thread = threading.local()


def _parser() -> etree.XMLParser:
    """This thread's locked-down parser, made once (building one costs about as much as a parse).

    lxml parsers keep state while they parse and are not thread-safe, so each thread has
    its own; within a thread they are used one document at a time, and a failed parse
    leaves nothing behind for the next one.
    """
    parser: etree.XMLParser | None = getattr(_per_thread, "parser", None)
    if parser is None:
        parser = _per_thread.parser = _new_parser()
    return parser


def _new_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


def parse_xml(data: bytes, *, max_bytes: int = MAX_XML_BYTES) -> etree._Element:
    """Parse untrusted XML bytes into an element tree, or raise :class:`XmlInputError`."""
    if len(data) > max_bytes:
        raise HostileXmlError(f"document is {len(data)} bytes, limit is {max_bytes}")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        if "depth" in (exc.msg or "").lower():  # libxml2's own hard limit (256) was hit first
            raise HostileXmlError(f"nesting deeper than {MAX_XML_DEPTH} levels") from None
        raise XmlInputError(f"not well-formed XML: {exc.msg} (line {exc.lineno})") from None
    if root is None:
        raise XmlInputError("empty document")
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise HostileXmlError("a DOCTYPE is not allowed")
    if depth_exceeds(root, MAX_XML_DEPTH):
        raise HostileXmlError(f"nesting deeper than {MAX_XML_DEPTH} levels")
    return root


_DEPTH_PROBE = etree.XPath("boolean(" + "/*" * (MAX_XML_DEPTH + 1) + ")")


def depth_exceeds(root: etree._Element, limit: int) -> bool:
    """Whether any element lies deeper than ``limit`` levels (evaluated in libxml2, not Python)."""
    if limit != MAX_XML_DEPTH:
        return bool(etree.XPath("boolean(" + "/*" * (limit + 1) + ")")(root))
    return bool(_DEPTH_PROBE(root))
