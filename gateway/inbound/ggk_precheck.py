"""What is checked on a GGk request before it is processed - or stored.

Hostile XML (a DOCTYPE with entities: XXE, billion laughs; nesting beyond any chain
message; a declared encoding other than UTF-8, or bytes that are not UTF-8) is refused
here with the chain's code RIN001 and *not* stored: it is an attack or garbage, not a
message a party sent by mistake. Size is capped before this (IB007, while reading).
XML that is merely not a valid envelope still goes on to the dispatcher, which records
it as ``invalid`` for the operators.

The precheck also names the message type - the envelope's ``functie`` (``JW302``) or
``Fo01`` - so the endpoint can check the calling party's allow-list first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from connectors.ggk import EnvelopeError
from connectors.ggk.envelope import STUF_NS
from connectors.ggk.soap import SOAP_NS
from connectors.xml_input import HostileXmlError, XmlInputError, parse_xml

_DECLARED_ENCODING = re.compile(rb"\A\s*<\?xml[^>]*?\bencoding\s*=\s*[\"']([^\"']{1,40})[\"']", re.IGNORECASE)
_UTF8_NAMES = frozenset({"utf-8", "utf8"})
_UTF8_BOM = b"\xef\xbb\xbf"
_FOREIGN_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_MARKUP_DECLARATIONS = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", b"<!entity")


@dataclass(frozen=True, slots=True)
class Prechecked:
    """A request that may go on: its message type and parsed tree, when it could be read."""

    message_type: str | None
    #: The parsed body, handed on to the dispatcher so it is not parsed a second time.
    root: etree._Element | None = None


def precheck(body: bytes) -> Prechecked:
    """Refuse hostile input (:class:`EnvelopeError` RIN001) or name the message type."""
    _check_encoding(body)
    if any(marker in body for marker in _MARKUP_DECLARATIONS):
        raise EnvelopeError.of("RIN001", "a DOCTYPE or ENTITY declaration is not allowed")
    try:
        root = parse_xml(body)
    except HostileXmlError as exc:
        raise EnvelopeError.of("RIN001", str(exc)) from None
    except XmlInputError:
        return Prechecked(None)  # not well-formed: the dispatcher answers and records it
    return Prechecked(_message_type(root), root)


def _check_encoding(body: bytes) -> None:
    if body.startswith(_FOREIGN_BOMS):
        raise EnvelopeError.of("RIN001", "the request is not UTF-8 (a UTF-16/32 byte order mark)")
    head = body[len(_UTF8_BOM) :] if body.startswith(_UTF8_BOM) else body
    declared = _DECLARED_ENCODING.match(head[:300])
    if declared is not None:
        name = declared.group(1).decode("ascii", "replace")
        if name.lower() not in _UTF8_NAMES:
            raise EnvelopeError.of("RIN001", f"declared encoding {name[:40]!r}: the GGk exchanges UTF-8 only")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EnvelopeError.of("RIN001", f"the request is not valid UTF-8 (at byte {exc.start})") from None


def _message_type(root: etree._Element) -> str | None:
    body = root.find(f"{{{SOAP_NS}}}Body")
    if body is None or len(body) != 1:
        return None
    element = body[0]
    if not isinstance(element.tag, str):
        return None
    if etree.QName(element).localname == "Fo01Bericht":
        return "Fo01"
    functie = element.find(f"{{*}}stuurgegevens/{{{STUF_NS}}}functie")
    text = (functie.text or "").strip() if functie is not None else ""
    return text[:20] or None
