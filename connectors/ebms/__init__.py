"""Digikoppeling ebMS2, the subset CORV uses (see /work/coord/CORV_CONTRACT.md).

Public API (stable; H2's gateway side codes against it):

Header and constants
    MessageHeader(from_party, to_party, cpa_id, conversation_id, action, message_id,
                  timestamp, service=CORV_SERVICE, ref_to_message_id=None)
        .new(from_party=, to_party=, cpa_id=, action=, conversation_id=None,
             ref_to_message_id=None, service=CORV_SERVICE, host=None) -> MessageHeader
        .reply(action=, service=CORV_SERVICE, message_id=None) -> MessageHeader
        .is_ack / .is_error
    new_message_id(host=None) -> "<uuid>@<host>"
    CORV_SERVICE, EBMS_SERVICE, ACK_ACTION, ERROR_ACTION, PARTY_TYPE_OIN,
    SOAP_ACTION_HEADER (= ("SOAPAction", '"ebXML"')), DEFAULT_CPA_ID, MAX_BODY_BYTES

Building (all return the HTTP Content-Type with the body)
    Payload(source: bytes | Path | BinaryIO, content_type="application/xml", content_id=None)
    iter_user_message(header, payloads) -> (content_type, Iterator[bytes])   # streaming
    write_user_message(header, payloads, out: BinaryIO) -> content_type       # to a file
    build_user_message(header, payloads) -> (content_type, bytes)             # small ones
        Bytes are deterministic for a given header + payload (boundary and Content-IDs
        derive from the MessageId), so a retry re-renders identical bytes.
    build_ack(received_header, stuf_answer=None) -> (content_type, bytes)
        text/xml ack, or multipart/related ack + StUF answer part (Bv01/Fo03).
    build_message_error(errors, received=None) -> (content_type, bytes)
        errors: an EbmsError / ErrorItem or a list of them.

Parsing
    parse_message(content_type, body: bytes | BinaryIO, max_bytes=MAX_BODY_BYTES,
                  max_part_bytes=None, own_party=None) -> ReceivedMessage
    ReceivedMessage: kind (MessageKind.USER/ACK/ERROR), header (None only for an
        ERROR without MessageHeader), parts (payload ReceivedParts in Manifest order,
        each .read() / .open() / .size / .content_type / .content_id, spooled to disk
        above 1 MB), payload (first part), ack_requested, acked_message_id (ACK),
        errors (ERROR: list[ErrorItem]), first_error(), soap (bytes); close() / with.

Errors (raised by parse_message; each has .error_code, .description, .location, .item())
    EbmsError > MimeProblem, ValueNotRecognized, NotSupported (also over a size limit),
    Inconsistent, OtherXml, SecurityFailure, UnknownError
"""

from connectors.ebms.build import (
    Payload,
    build_ack,
    build_message_error,
    build_user_message,
    iter_user_message,
    write_user_message,
)
from connectors.ebms.errors import (
    EbmsError,
    ErrorItem,
    Inconsistent,
    MimeProblem,
    NotSupported,
    OtherXml,
    SecurityFailure,
    UnknownError,
    ValueNotRecognized,
)
from connectors.ebms.header import MessageHeader, format_timestamp, new_message_id, utc_now
from connectors.ebms.multipart import ReceivedPart
from connectors.ebms.names import (
    ACK_ACTION,
    CORV_SERVICE,
    DEFAULT_CPA_ID,
    EB_NS,
    EBMS_SERVICE,
    ERROR_ACTION,
    MAX_BODY_BYTES,
    PARTY_TYPE_OIN,
    SOAP_ACTION_HEADER,
    SOAP_NS,
)
from connectors.ebms.parse import MessageKind, ReceivedMessage, parse_message

__all__ = [
    "ACK_ACTION",
    "CORV_SERVICE",
    "DEFAULT_CPA_ID",
    "EBMS_SERVICE",
    "EB_NS",
    "ERROR_ACTION",
    "MAX_BODY_BYTES",
    "PARTY_TYPE_OIN",
    "SOAP_ACTION_HEADER",
    "SOAP_NS",
    "EbmsError",
    "ErrorItem",
    "Inconsistent",
    "MessageHeader",
    "MessageKind",
    "MimeProblem",
    "NotSupported",
    "OtherXml",
    "Payload",
    "ReceivedMessage",
    "ReceivedPart",
    "SecurityFailure",
    "UnknownError",
    "ValueNotRecognized",
    "build_ack",
    "build_message_error",
    "build_user_message",
    "format_timestamp",
    "iter_user_message",
    "new_message_id",
    "parse_message",
    "utc_now",
    "write_user_message",
]
