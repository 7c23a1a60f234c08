"""A throw-away PKI for tests: a CA and certificates carrying an OIN, as PKIoverheid does.

PKIoverheid puts the organisation's OIN in the certificate subject's ``serialNumber``
attribute; the gateway checks it on both sides of mutual TLS. These helpers write PEM
files to a directory so they can be given to the settings exactly as in production.

EC P-256 keys keep generation fast (milliseconds); the checks do not depend on the key type.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Test OINs (20 digits, starting 00000099).
OIN_GEMEENTE = "00000099000000000637"
OIN_GGK = "00000099000000002000"
OIN_CORV = "00000099000000001000"
OIN_STRANGER = "00000099000000009999"


@dataclass(frozen=True)
class Issued:
    """A certificate and its key as PEM files (and the CA bundle that issued it)."""

    cert_file: Path
    key_file: Path
    ca_file: Path


@dataclass(frozen=True)
class ThrowAwayCa:
    """A CA that writes certificates into ``directory``."""

    name: str
    directory: Path
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def ca_file(self) -> Path:
        return self.directory / f"{self.name}-ca.pem"

    def issue(
        self,
        name: str,
        oin: str | None,
        *,
        server: bool = False,
        valid_days: int = 30,
        expired: bool = False,
    ) -> Issued:
        """A leaf certificate for ``name`` with ``oin`` as subject serialNumber.

        ``server``: for a TLS server on loopback (SAN localhost and 127.0.0.1);
        ``expired``: its validity ended yesterday.
        """
        now = dt.datetime.now(dt.UTC)
        not_before, not_after = now - dt.timedelta(days=1), now + dt.timedelta(days=valid_days)
        if expired:
            not_before, not_after = now - dt.timedelta(days=30), now - dt.timedelta(days=1)
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"Test {name}"),
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost" if server else name),
        ]
        if oin is not None:
            attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, oin))
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        cert = builder.sign(self.key, hashes.SHA256())
        cert_file, key_file = self.directory / f"{name}.pem", self.directory / f"{name}-key.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(_key_pem(key))
        return Issued(cert_file, key_file, self.ca_file)


def make_ca(directory: Path, name: str = "test") -> ThrowAwayCa:
    """A self-signed CA (valid for a year) with its certificate at ``<name>-ca.pem``."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Throw-away test CA {name}"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    ca = ThrowAwayCa(name, directory, key, cert)
    ca.ca_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return ca


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
