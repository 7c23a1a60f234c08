"""Namespaces and fixed values of the Digikoppeling ebMS2 subset the gateway speaks.

One place for them so that the sender, the receiver and the mock cannot drift apart.
"""

from __future__ import annotations

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
EB_NS = "http://www.oasis-open.org/committees/ebxml-msg/schema/msg-header-2_0.xsd"
XLINK_NS = "http://www.w3.org/1999/xlink"

#: The ``type`` of every ``eb:PartyId``: a Digikoppeling OIN (20 digits).
PARTY_TYPE_OIN = "urn:osb:oin"
#: The ``eb:Service`` of every CORV user message (one constant shared by both sides).
CORV_SERVICE = "urn:osb:services:corv:jz0100"
#: Service and actions of ebMS's own messages (acknowledgments and errors).
EBMS_SERVICE = "urn:oasis:names:tc:ebxml-msg:service"
ACK_ACTION = "Acknowledgment"
ERROR_ACTION = "MessageError"
#: The ``SOAP:actor`` of ``eb:AckRequested``: the receiving MSH must acknowledge.
TO_PARTY_MSH = "urn:oasis:names:tc:ebxml-msg:actor:toPartyMSH"
#: The HTTP header every ebMS message carries.
SOAP_ACTION_HEADER = ("SOAPAction", '"ebXML"')

#: The default CPA between a gemeente and CORV (configurable per party).
DEFAULT_CPA_ID = "CPA-CORV-0637"

#: Default limits: the whole body and one payload part (a VTO with 4 x 21 MB documents
#: is ~115 MB base64 on the wire).
MAX_BODY_BYTES = 120 * 1024 * 1024
#: Parts above this size are spooled to disk instead of being held in memory.
SPOOL_IN_MEMORY_BYTES = 1024 * 1024

OIN_PATTERN = r"[0-9]{20}"
