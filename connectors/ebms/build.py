"""Rendering ebMS2 messages: user messages (streamed multipart/related), acks, errors.

A user message is produced as an iterator of chunks so that a 115 MB VTO goes from its
spool file to the socket (or to the outbox file the sender retries from) without ever
being held in memory. The boundary and the Content-IDs are derived from the MessageId,
so rendering the same header and payload twice gives the same bytes: a retry after a
restart is byte-identical even when the rendered file was not kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from connectors.ebms.errors import EbmsError, ErrorItem
from connectors.ebms.header import MessageHeader, format_timestamp, header_element, utc_now
from connectors.ebms.names import (
    ACK_ACTION,
    EB_NS,
    EBMS_SERVICE,
    ERROR_ACTION,
    SOAP_NS,
    TO_PARTY_MSH,
    XLINK_NS,
)

_E = f"{{{EB_NS}}}"
_S = f"{{{SOAP_NS}}}"
_CHUNK = 1024 * 1024
_XML_DECL = b"<?xml version='1.0' encoding='UTF-8'?>\n"


@dataclass(frozen=True, slots=True)
class Payload:
    """One payload part: its bytes, a file path, or an open binary stream (read once,
    from its current position)."""

    source: bytes | Path | BinaryIO
    content_type: str = "application/xml"
    content_id: str | None = None


def _digest(message_id: str) -> str:
    return hashlib.sha256(message_id.encode()).hexdigest()[:32]


def boundary_for(message_id: str) -> str:
    """The multipart boundary of a message (deterministic per MessageId)."""
    return f"----=_Part_{_digest(message_id)}"


def soap_content_id(message_id: str) -> str:
    """The Content-ID (without ``<>``) of the SOAP part of a message."""
    return f"soap-{_digest(message_id)}@ebms"


def payload_content_id(message_id: str, index: int) -> str:
    """The default Content-ID (without ``<>``) of payload ``index`` (0-based)."""
    return f"payload-{index}-{_digest(message_id)}@ebms"


def multipart_content_type(boundary: str, start: str) -> str:
    """The HTTP ``Content-Type`` of an ebMS multipart/related message."""
    return f'multipart/related; type="text/xml"; boundary="{boundary}"; start="<{start}>"'


def _envelope(header_children: Sequence[etree._Element], body_children: Sequence[etree._Element]) -> bytes:
    env = etree.Element(_S + "Envelope", nsmap={"SOAP": SOAP_NS, "eb": EB_NS, "xlink": XLINK_NS})
    head = etree.SubElement(env, _S + "Header")
    head.extend(header_children)
    body = etree.SubElement(env, _S + "Body")
    body.extend(body_children)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="UTF-8"))


def _manifest(content_ids: Sequence[str]) -> etree._Element:
    manifest = etree.Element(_E + "Manifest", {_E + "version": "2.0"})
    for cid in content_ids:
        etree.SubElement(
            manifest, _E + "Reference", {f"{{{XLINK_NS}}}href": f"cid:{cid}", f"{{{XLINK_NS}}}type": "simple"}
        )
    return manifest


def user_message_soap(header: MessageHeader, content_ids: Sequence[str]) -> bytes:
    """The SOAP part of a user message: MessageHeader + AckRequested, Manifest in the body."""
    ack_requested = etree.Element(
        _E + "AckRequested",
        {
            _S + "mustUnderstand": "1",
            _E + "version": "2.0",
            _S + "actor": TO_PARTY_MSH,
            _E + "signed": "false",
        },
    )
    return _envelope([header_element(header), ack_requested], [_manifest(content_ids)])


def _part_head(boundary: str, content_type: str, content_id: str, first: bool) -> bytes:
    lead = b"" if first else b"\r\n"
    return (
        lead
        + f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-ID: <{content_id}>\r\n"
        "Content-Transfer-Encoding: binary\r\n\r\n".encode()
    )


def _source_chunks(source: bytes | Path | BinaryIO, chunk_size: int) -> Iterator[bytes]:
    if isinstance(source, bytes):
        yield source
        return
    if isinstance(source, Path):
        with source.open("rb") as stream:
            yield from _stream_chunks(stream, chunk_size)
        return
    yield from _stream_chunks(source, chunk_size)


def _stream_chunks(stream: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    while chunk := stream.read(chunk_size):
        yield chunk


def _multipart(
    boundary: str,
    soap_cid: str,
    soap: bytes,
    parts: Sequence[tuple[str, str, bytes | Path | BinaryIO]],
    chunk_size: int,
) -> Iterator[bytes]:
    yield _part_head(boundary, 'text/xml; charset="UTF-8"', soap_cid, first=True) + soap
    for content_type, cid, source in parts:
        yield _part_head(boundary, content_type, cid, first=False)
        yield from _source_chunks(source, chunk_size)
    yield f"\r\n--{boundary}--\r\n".encode()


def iter_user_message(
    header: MessageHeader, payloads: Sequence[Payload], *, chunk_size: int = _CHUNK
) -> tuple[str, Iterator[bytes]]:
    """Render a user message as (HTTP Content-Type, iterator of body chunks).

    The payload sources are read lazily, while the iterator is consumed.
    """
    cids = [p.content_id or payload_content_id(header.message_id, i) for i, p in enumerate(payloads)]
    boundary = boundary_for(header.message_id)
    soap_cid = soap_content_id(header.message_id)
    soap = user_message_soap(header, cids)
    parts = [(p.content_type, cid, p.source) for p, cid in zip(payloads, cids, strict=True)]
    return multipart_content_type(boundary, soap_cid), _multipart(boundary, soap_cid, soap, parts, chunk_size)


def write_user_message(header: MessageHeader, payloads: Sequence[Payload], out: BinaryIO) -> str:
    """Render a user message into ``out`` (a binary file); return its HTTP Content-Type."""
    content_type, chunks = iter_user_message(header, payloads)
    for chunk in chunks:
        out.write(chunk)
    return content_type


def build_user_message(header: MessageHeader, payloads: Sequence[Payload]) -> tuple[str, bytes]:
    """Render a (small) user message in memory: (Content-Type, body). For control
    messages and tests; large messages use :func:`write_user_message`."""
    content_type, chunks = iter_user_message(header, payloads)
    return content_type, b"".join(chunks)


def ack_header(received: MessageHeader, *, timestamp: datetime | None = None) -> MessageHeader:
    """The MessageHeader of the Acknowledgment of ``received``."""
    reply = received.reply(action=ACK_ACTION, service=EBMS_SERVICE)
    return reply if timestamp is None else _with_time(reply, timestamp)


def _with_time(header: MessageHeader, moment: datetime) -> MessageHeader:
    return replace(header, timestamp=moment)


def build_ack(
    received: MessageHeader,
    *,
    stuf_answer: bytes | None = None,
    answer_content_type: str = "application/xml",
    timestamp: datetime | None = None,
) -> tuple[str, bytes]:
    """The Acknowledgment of ``received`` as (Content-Type, body).

    Plain ``text/xml`` SOAP, or - with ``stuf_answer`` (a rendered Bv01/Fo03) - a
    multipart/related body with the SOAP ack first and the StUF answer as second part
    (referenced from an ``eb:Manifest``).
    """
    header = ack_header(received, timestamp=timestamp)
    ack = etree.Element(
        _E + "Acknowledgment", {_S + "mustUnderstand": "1", _E + "version": "2.0", _S + "actor": TO_PARTY_MSH}
    )
    etree.SubElement(ack, _E + "Timestamp").text = format_timestamp(header.timestamp)
    etree.SubElement(ack, _E + "RefToMessageId").text = received.message_id
    if stuf_answer is None:
        return 'text/xml; charset="UTF-8"', _envelope([header_element(header), ack], [])
    cid = payload_content_id(header.message_id, 0)
    soap = _envelope([header_element(header), ack], [_manifest([cid])])
    boundary = boundary_for(header.message_id)
    soap_cid = soap_content_id(header.message_id)
    chunks = _multipart(boundary, soap_cid, soap, [(answer_content_type, cid, stuf_answer)], _CHUNK)
    return multipart_content_type(boundary, soap_cid), b"".join(chunks)


def build_message_error(
    errors: EbmsError | ErrorItem | Iterable[EbmsError | ErrorItem],
    *,
    received: MessageHeader | None = None,
    timestamp: datetime | None = None,
) -> tuple[str, bytes]:
    """A MessageError as (Content-Type, body): SOAP with ``eb:ErrorList``
    (``highestSeverity`` the worst item's) and one ``eb:Error`` per item.

    With ``received`` (when its header could be read) the envelope also carries a
    MessageHeader (Service ebMS, Action ``MessageError``, RefToMessageId); without it
    (e.g. a malformed multipart) only the ErrorList.
    """
    if isinstance(errors, EbmsError | ErrorItem):
        errors = [errors]
    items = [e.item() if isinstance(e, EbmsError) else e for e in errors]
    if not items:
        raise ValueError("a MessageError needs at least one error")
    highest = "Error" if any(i.severity == "Error" for i in items) else "Warning"
    error_list = etree.Element(
        _E + "ErrorList", {_S + "mustUnderstand": "1", _E + "version": "2.0", _E + "highestSeverity": highest}
    )
    for item in items:
        attrs = {_E + "errorCode": item.code, _E + "severity": item.severity}
        if item.location:
            attrs[_E + "location"] = item.location
        error = etree.SubElement(error_list, _E + "Error", attrs)
        etree.SubElement(
            error, _E + "Description", {"{http://www.w3.org/XML/1998/namespace}lang": "en"}
        ).text = item.description
    children: list[etree._Element] = []
    if received is not None:
        header = received.reply(action=ERROR_ACTION, service=EBMS_SERVICE)
        children.append(header_element(header if timestamp is None else _with_time(header, timestamp)))
    children.append(error_list)
    return 'text/xml; charset="UTF-8"', _envelope(children, [])


__all__ = [
    "Payload",
    "ack_header",
    "boundary_for",
    "build_ack",
    "build_message_error",
    "build_user_message",
    "iter_user_message",
    "multipart_content_type",
    "payload_content_id",
    "soap_content_id",
    "user_message_soap",
    "utc_now",
    "write_user_message",
]
