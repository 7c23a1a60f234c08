"""The OIN in a PKIoverheid certificate: the subject's ``serialNumber`` attribute.

PKIoverheid (and the Digikoppeling rules) identify an organisation by its 20-digit
OIN in the certificate subject's serialNumber (OID 2.5.4.5). Both sides of mutual TLS
check it: a certificate from the right CA but for another organisation is refused.
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.x509.oid import NameOID

_OIN = re.compile(r"[0-9]{20}")


def subject_oin(cert: x509.Certificate) -> str | None:
    """The certificate's OIN, or None when it has no (or no well-formed) serialNumber."""
    values = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    if len(values) != 1:
        return None
    value = values[0].value
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    return text if _OIN.fullmatch(text) else None


def oin_of_der(der: bytes | None) -> str | None:
    """:func:`subject_oin` of a DER-encoded certificate (as ``getpeercert(True)`` gives it)."""
    if not der:
        return None
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    return subject_oin(cert)


def describe(der: bytes | None) -> str:
    """A short, log-safe description of a certificate: subject and validity end."""
    if not der:
        return "no certificate"
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return "an unreadable certificate"
    return f"{cert.subject.rfc4514_string()[:200]} (valid until {cert.not_valid_after_utc:%Y-%m-%d})"
