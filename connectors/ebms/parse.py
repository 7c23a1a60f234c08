"""Reading a received ebMS message: HTTP body + Content-Type → header, kind, parts.

The SOAP part is small and parsed with the project's hardened parser; payload parts
stay in spooled temp files (see :mod:`connectors.ebms.multipart`). Every refusal is a
typed :class:`~connectors.ebms.errors.EbmsError` carrying the ebMS2 errorCode.
"""

from __future__ import annotations

import enum
import io
from dataclasses import dataclass, field
from email.message import Message
from types import TracebackType
from typing import IO

from lxml import etree

from connectors.ebms.errors import (
    ERROR_CLASSES,
    EbmsError,
    ErrorItem,
    Inconsistent,
    MimeProblem,
    NotSupported,
    OtherXml,
    ValueNotRecognized,
)
from connectors.ebms.header import MessageHeader, read_header
from connectors.ebms.multipart import ReceivedPart, read_multipart
from connectors.ebms.names import EB_NS, MAX_BODY_BYTES, SOAP_NS, XLINK_NS
from connectors.xml_input import XmlInputError, parse_xml

#: The SOAP part of any message in this subset is far smaller than this.
MAX_SOAP_BYTES = 1024 * 1024
_NS = {"SOAP": SOAP_NS, "eb": EB_NS, "xlink": XLINK_NS}


class MessageKind(enum.StrEnum):
    """What a received ebMS message is."""

    USER = "user"  # a business message (MessageHeader + payload parts)
    ACK = "ack"  # an eb:Acknowledgment (maybe with a StUF answer part)
    ERROR = "error"  # an eb:ErrorList (MessageError)


@dataclass(slots=True)
class ReceivedMessage:
    """A parsed ebMS message. Close it (or use ``with``) to drop the spooled parts.

    ``parts`` are the payload parts in Manifest order (the SOAP part excluded);
    ``acked_message_id`` is the ``eb:Acknowledgment/eb:RefToMessageId`` of an ACK;
    ``errors`` the items of an ERROR; ``header`` is None only for an ERROR without
    MessageHeader.
    """

    kind: MessageKind
    header: MessageHeader | None
    soap: bytes
    parts: list[ReceivedPart] = field(default_factory=list)
    ack_requested: bool = False
    acked_message_id: str | None = None
    errors: list[ErrorItem] = field(default_factory=list)

    @property
    def payload(self) -> ReceivedPart | None:
        """The first payload part (the StUF message), if any."""
        return self.parts[0] if self.parts else None

    def first_error(self) -> EbmsError | None:
        """The first ErrorList item as a typed exception (for an ERROR)."""
        if not self.errors:
            return None
        item = self.errors[0]
        cls = ERROR_CLASSES.get(item.code, EbmsError)
        error = cls(item.description, location=item.location)
        error.error_code = item.code
        return error

    def close(self) -> None:
        for part in self.parts:
            part.close()

    def __enter__(self) -> ReceivedMessage:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _media(content_type: str) -> Message:
    message = Message()
    message["content-type"] = content_type
    return message


def parse_message(
    content_type: str | None,
    body: bytes | IO[bytes],
    *,
    max_bytes: int = MAX_BODY_BYTES,
    max_part_bytes: int | None = None,
    own_party: str | None = None,
    spool_dir: str | None = None,
) -> ReceivedMessage:
    """Parse a received HTTP body (bytes or a binary file, e.g. a spooled upload).

    ``own_party``: when given, a user message addressed (``To/PartyId``) to another OIN
    is refused with :class:`ValueNotRecognized`. Other checks of From, CPAId, Service
    and Action belong to the caller (it knows the configured parties). ``spool_dir``: where
    large parts are spooled (see :func:`connectors.ebms.multipart.read_multipart`).
    """
    if not content_type:
        raise MimeProblem("the request has no Content-Type")
    media = _media(content_type)
    kind = media.get_content_type()
    stream: IO[bytes] = io.BytesIO(body) if isinstance(body, bytes) else body
    if kind in ("text/xml", "application/soap+xml"):
        soap = stream.read(MAX_SOAP_BYTES + 1)
        if len(soap) > MAX_SOAP_BYTES:
            raise NotSupported(f"a plain SOAP message is larger than the limit of {MAX_SOAP_BYTES} bytes")
        return _from_soap(soap, [], own_party)
    if kind != "multipart/related":
        raise MimeProblem(f"Content-Type {kind[:60]!r} is neither multipart/related nor text/xml")
    boundary = media.get_param("boundary")
    if not isinstance(boundary, str):
        raise MimeProblem("the multipart/related Content-Type has no boundary parameter")
    start = media.get_param("start")
    parts = read_multipart(
        stream, boundary, max_bytes=max_bytes, max_part_bytes=max_part_bytes, spool_dir=spool_dir
    )
    try:
        if not parts:
            raise MimeProblem("the multipart body has no parts")
        soap_part = _start_part(parts, start if isinstance(start, str) else None)
        if soap_part.size > MAX_SOAP_BYTES:
            raise NotSupported(f"the SOAP part is larger than the limit of {MAX_SOAP_BYTES} bytes")
        soap = soap_part.read()
        soap_part.close()
        others = [p for p in parts if p is not soap_part]
        return _from_soap(soap, others, own_party)
    except BaseException:
        for part in parts:
            part.close()
        raise


def _start_part(parts: list[ReceivedPart], start: str | None) -> ReceivedPart:
    if start:
        wanted = start.strip().removeprefix("<").removesuffix(">")
        for part in parts:
            if part.content_id == wanted:
                return part
        raise MimeProblem(f"no part has the Content-ID {wanted[:80]!r} named by the start parameter")
    return parts[0]


def _from_soap(soap: bytes, parts: list[ReceivedPart], own_party: str | None) -> ReceivedMessage:
    try:
        envelope = parse_xml(soap, max_bytes=MAX_SOAP_BYTES)
    except XmlInputError as exc:
        raise OtherXml(f"the SOAP part is not acceptable XML: {exc}") from None
    if envelope.tag != f"{{{SOAP_NS}}}Envelope":
        raise OtherXml("the SOAP part is not a SOAP 1.1 Envelope", location=str(envelope.tag)[:80])
    head = envelope.find("SOAP:Header", _NS)
    if head is None:
        raise OtherXml("the SOAP Envelope has no Header", location="SOAP:Envelope")
    header_el = head.find("eb:MessageHeader", _NS)
    error_list = head.find("eb:ErrorList", _NS)
    if error_list is not None:
        header = read_header(header_el) if header_el is not None else None
        return ReceivedMessage(
            kind=MessageKind.ERROR, header=header, soap=soap, parts=parts, errors=_error_items(error_list)
        )
    if header_el is None:
        raise OtherXml("the SOAP Header has no eb:MessageHeader", location="SOAP:Header")
    header = read_header(header_el)
    ack = head.find("eb:Acknowledgment", _NS)
    ordered = _manifest_order(envelope, parts)
    if ack is not None:
        ref = ack.findtext("eb:RefToMessageId", namespaces=_NS) or header.ref_to_message_id
        if not ref or not ref.strip():
            raise OtherXml("eb:Acknowledgment has no RefToMessageId", location="eb:Acknowledgment")
        return ReceivedMessage(
            kind=MessageKind.ACK, header=header, soap=soap, parts=ordered, acked_message_id=ref.strip()
        )
    if own_party is not None and header.to_party != own_party:
        raise ValueNotRecognized("To/PartyId is not this party's OIN", location="eb:To/eb:PartyId")
    return ReceivedMessage(
        kind=MessageKind.USER,
        header=header,
        soap=soap,
        parts=ordered,
        ack_requested=head.find("eb:AckRequested", _NS) is not None,
    )


def _manifest_order(envelope: etree._Element, parts: list[ReceivedPart]) -> list[ReceivedPart]:
    """The parts in Manifest order; a reference without its part is Inconsistent."""
    refs = envelope.findall("SOAP:Body/eb:Manifest/eb:Reference", _NS)
    by_cid = {p.content_id: p for p in parts if p.content_id}
    ordered: list[ReceivedPart] = []
    for ref in refs:
        href = (ref.get(f"{{{XLINK_NS}}}href") or "").strip()
        if not href.startswith("cid:"):
            raise Inconsistent(
                f"Manifest reference {href[:80]!r} is not a cid: reference", location="eb:Reference"
            )
        part = by_cid.get(href[4:])
        if part is None:
            raise Inconsistent(f"no MIME part has the Content-ID of {href[:80]!r}", location="eb:Manifest")
        ordered.append(part)
    ordered.extend(p for p in parts if p not in ordered)
    return ordered


def _error_items(error_list: etree._Element) -> list[ErrorItem]:
    items = []
    for error in error_list.findall("eb:Error", _NS):
        code = error.get(f"{{{EB_NS}}}errorCode") or error.get("errorCode") or "Unknown"
        items.append(
            ErrorItem(
                code=code,
                severity=error.get(f"{{{EB_NS}}}severity") or error.get("severity") or "Error",
                location=error.get(f"{{{EB_NS}}}location") or error.get("location") or "",
                description=(error.findtext("eb:Description", namespaces=_NS) or "").strip(),
            )
        )
    if not items:
        raise OtherXml("eb:ErrorList has no eb:Error", location="eb:ErrorList")
    return items
