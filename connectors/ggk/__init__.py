"""The GGk (Gemeentelijk Gegevensknooppunt): StUF-GGk envelope, SOAP transport, error codes.

Pure translation, no I/O: the gateway's delivery engine and inbound endpoint, and the
mock GGk, do the HTTP around these functions.
"""

from connectors.ggk.envelope import (
    ENVELOPE_XSD,
    MAX_ENVELOPE_BYTES,
    STUF_XSD,
    Heenbericht,
    Retourbericht,
    Systeem,
    format_tijdstip,
    is_uuid4,
    new_referentienummer,
    parse_envelope,
    parse_tijdstip,
    render_di01,
    render_du01,
)
from connectors.ggk.errors import GGK_ERRORS, EnvelopeError, GgkError, Plek, is_retryable, mask_bsn_like
from connectors.ggk.soap import (
    GGK_SYSTEEM,
    Fo01,
    InboundSoap,
    Operation,
    SoapAction,
    SoapAnswer,
    parse_fo01,
    parse_soap_request,
    parse_soap_response,
    render_bv03,
    render_fo01,
    render_fo03_fault,
    soap_headers,
    soap_request,
)

__all__ = [
    "ENVELOPE_XSD",
    "GGK_ERRORS",
    "GGK_SYSTEEM",
    "MAX_ENVELOPE_BYTES",
    "STUF_XSD",
    "EnvelopeError",
    "Fo01",
    "GgkError",
    "Heenbericht",
    "InboundSoap",
    "Operation",
    "Plek",
    "Retourbericht",
    "SoapAction",
    "SoapAnswer",
    "Systeem",
    "format_tijdstip",
    "is_retryable",
    "is_uuid4",
    "mask_bsn_like",
    "new_referentienummer",
    "parse_envelope",
    "parse_fo01",
    "parse_soap_request",
    "parse_soap_response",
    "parse_tijdstip",
    "render_bv03",
    "render_di01",
    "render_du01",
    "render_fo01",
    "render_fo03_fault",
    "soap_headers",
    "soap_request",
]
