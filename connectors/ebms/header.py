"""The ``eb:MessageHeader`` as a dataclass, and its XML form.

Why a dataclass: the gateway stores the header of every sent and received message (for
dedup by MessageId, retries with the same bytes and linking answers by RefToMessageId),
so the fields must be plain values, not an XML tree.
"""

from __future__ import annotations

import re
import socket
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from lxml import etree

from connectors.ebms.errors import Inconsistent, OtherXml, ValueNotRecognized
from connectors.ebms.names import (
    ACK_ACTION,
    CORV_SERVICE,
    EB_NS,
    EBMS_SERVICE,
    ERROR_ACTION,
    PARTY_TYPE_OIN,
    SOAP_NS,
)

_OIN = re.compile(r"[0-9]{20}")
_E = f"{{{EB_NS}}}"


def new_message_id(host: str | None = None) -> str:
    """A fresh ebMS MessageId ``<uuid>@<host>``."""
    return f"{uuid.uuid4()}@{host or socket.gethostname() or 'localhost'}"


def utc_now() -> datetime:
    """Now, in UTC, to the millisecond (the precision of ``eb:Timestamp``)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)


def format_timestamp(moment: datetime) -> str:
    """``eb:Timestamp`` form: UTC ISO-8601 with ``Z``."""
    moment = moment.astimezone(UTC)
    millis = f".{moment.microsecond // 1000:03d}" if moment.microsecond else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + millis + "Z"


def parse_timestamp(text: str) -> datetime:
    """Read an ``eb:Timestamp``; raise :class:`OtherXml` when it is not ISO-8601."""
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise OtherXml(
            f"eb:Timestamp {value[:40]!r} is not an ISO-8601 date-time", location="eb:Timestamp"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class MessageHeader:
    """The fields of ``eb:MessageHeader`` this subset uses.

    ``from_party``/``to_party`` are 20-digit OINs (PartyId type ``urn:osb:oin``);
    ``action`` is the StUF message name for user messages (``vtoDi01``, ``Bv01`` …) or
    ``Acknowledgment``/``MessageError`` with ``service`` = :data:`EBMS_SERVICE`.
    """

    from_party: str
    to_party: str
    cpa_id: str
    conversation_id: str
    action: str
    message_id: str
    timestamp: datetime
    service: str = CORV_SERVICE
    ref_to_message_id: str | None = None

    @classmethod
    def new(
        cls,
        *,
        from_party: str,
        to_party: str,
        cpa_id: str,
        action: str,
        conversation_id: str | None = None,
        ref_to_message_id: str | None = None,
        service: str = CORV_SERVICE,
        host: str | None = None,
    ) -> MessageHeader:
        """A header for a new message: fresh MessageId, now as timestamp, and a new
        ConversationId (= the MessageId's uuid) unless one is given."""
        message_id = new_message_id(host)
        return cls(
            from_party=from_party,
            to_party=to_party,
            cpa_id=cpa_id,
            conversation_id=conversation_id or message_id.split("@", 1)[0],
            action=action,
            message_id=message_id,
            timestamp=utc_now(),
            service=service,
            ref_to_message_id=ref_to_message_id,
        )

    def reply(
        self,
        *,
        action: str,
        service: str = CORV_SERVICE,
        message_id: str | None = None,
        host: str | None = None,
    ) -> MessageHeader:
        """A header answering this one: From/To swapped, same CPA and conversation,
        RefToMessageId = this MessageId."""
        return replace(
            self,
            from_party=self.to_party,
            to_party=self.from_party,
            action=action,
            service=service,
            message_id=message_id or new_message_id(host),
            timestamp=utc_now(),
            ref_to_message_id=self.message_id,
        )

    @property
    def is_ack(self) -> bool:
        return self.service == EBMS_SERVICE and self.action == ACK_ACTION

    @property
    def is_error(self) -> bool:
        return self.service == EBMS_SERVICE and self.action == ERROR_ACTION


def header_element(header: MessageHeader) -> etree._Element:
    """``eb:MessageHeader`` (``eb:version="2.0"``, ``SOAP:mustUnderstand="1"``)."""
    root = etree.Element(
        _E + "MessageHeader",
        {_E + "version": "2.0", f"{{{SOAP_NS}}}mustUnderstand": "1"},
        nsmap={"eb": EB_NS, "SOAP": SOAP_NS},
    )
    for tag, party in (("From", header.from_party), ("To", header.to_party)):
        wrapper = etree.SubElement(root, _E + tag)
        etree.SubElement(wrapper, _E + "PartyId", {_E + "type": PARTY_TYPE_OIN}).text = party
    etree.SubElement(root, _E + "CPAId").text = header.cpa_id
    etree.SubElement(root, _E + "ConversationId").text = header.conversation_id
    etree.SubElement(root, _E + "Service").text = header.service
    etree.SubElement(root, _E + "Action").text = header.action
    data = etree.SubElement(root, _E + "MessageData")
    etree.SubElement(data, _E + "MessageId").text = header.message_id
    etree.SubElement(data, _E + "Timestamp").text = format_timestamp(header.timestamp)
    if header.ref_to_message_id:
        etree.SubElement(data, _E + "RefToMessageId").text = header.ref_to_message_id
    return root


def _required_text(parent: etree._Element, path: str, what: str) -> str:
    found = parent.find(path, namespaces={"eb": EB_NS})
    text = (found.text or "").strip() if found is not None else ""
    if not text:
        raise OtherXml(f"eb:MessageHeader has no {what}", location=f"eb:MessageHeader/{path}")
    return text


def _party(parent: etree._Element, side: str) -> str:
    party = parent.find(f"eb:{side}/eb:PartyId", namespaces={"eb": EB_NS})
    if party is None or not (party.text or "").strip():
        raise OtherXml(f"eb:MessageHeader has no {side}/PartyId", location=f"eb:MessageHeader/eb:{side}")
    kind = party.get(_E + "type") or party.get("type")
    value = (party.text or "").strip()
    if kind != PARTY_TYPE_OIN:
        raise ValueNotRecognized(
            f"{side}/PartyId type {str(kind)[:60]!r} is not {PARTY_TYPE_OIN}",
            location=f"eb:{side}/eb:PartyId",
        )
    if not _OIN.fullmatch(value):
        raise ValueNotRecognized(f"{side}/PartyId is not a 20-digit OIN", location=f"eb:{side}/eb:PartyId")
    return value


def read_header(element: etree._Element) -> MessageHeader:
    """Read an ``eb:MessageHeader`` element; raise a typed :class:`EbmsError` when
    it is incomplete or malformed."""
    if element.get(_E + "version") not in (None, "2.0"):
        raise Inconsistent(
            f"eb:version {element.get(_E + 'version')!r} is not 2.0", location="eb:MessageHeader"
        )
    ref = element.find("eb:MessageData/eb:RefToMessageId", namespaces={"eb": EB_NS})
    return MessageHeader(
        from_party=_party(element, "From"),
        to_party=_party(element, "To"),
        cpa_id=_required_text(element, "eb:CPAId", "CPAId"),
        conversation_id=_required_text(element, "eb:ConversationId", "ConversationId"),
        service=_required_text(element, "eb:Service", "Service"),
        action=_required_text(element, "eb:Action", "Action"),
        message_id=_required_text(element, "eb:MessageData/eb:MessageId", "MessageData/MessageId"),
        timestamp=parse_timestamp(
            _required_text(element, "eb:MessageData/eb:Timestamp", "MessageData/Timestamp")
        ),
        ref_to_message_id=(ref.text or "").strip() or None if ref is not None else None,
    )
