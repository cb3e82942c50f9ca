"""The embedded default's Content Credentials key: a local CA and an ES256 signing
certificate it issued, made in the data folder at first start.

One file (mode 0600) holds the signing key, its certificate and the CA's certificate,
written whole by the first process to get there (`create_once`). The CA's private key
is used once, to issue the signing certificate, and never stored: nothing here can
issue another certificate under that CA. C2PA validators refuse a self-signed signing
certificate, hence the CA; viewers show the result as valid but untrusted unless the CA
is added to their trust list (see docs/content-credentials.md).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from adapters.private_files import create_once

CA_YEARS = 20
SIGNING_YEARS = 10
_PEM = serialization.Encoding.PEM


def _name(organisation: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _usage(*, signs_content: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signs_content,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signs_content,
        crl_sign=not signs_content,
        encipher_only=False,
        decipher_only=False,
    )


def issue_chain(
    organisation: str, key: ec.EllipticCurvePrivateKey | None = None
) -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 signing key (`key`, or a new one) and its chain from a new CA (signing
    certificate, then the CA's), in the profile C2PA requires of a signing certificate:
    not a CA, digital signature only, an extended key usage (email protection) and key
    identifiers."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(organisation, f"{organisation} Content Credentials CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(signs_content=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = key or ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(organisation, f"{organisation} Content Credentials"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * SIGNING_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(signs_content=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, (leaf.public_bytes(_PEM) + ca.public_bytes(_PEM)).decode("ascii")


def sign_es256(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


class LocalSigningKey:
    def __init__(self, path: Path, organisation: str = "DonatelloAI") -> None:
        self.path = path
        self._organisation = organisation
        self._lock = threading.Lock()
        self._loaded: tuple[ec.EllipticCurvePrivateKey, str] | None = None

    def certificate_chain(self) -> str:
        return self._key()[1]

    def sign(self, data: bytes) -> bytes:
        return sign_es256(self._key()[0], data)

    def _key(self) -> tuple[ec.EllipticCurvePrivateKey, str]:
        with self._lock:
            if self._loaded is None:
                if not self.path.exists():
                    key, chain = issue_chain(self._organisation)
                    pem = key.private_bytes(
                        _PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                    )
                    create_once(self.path, pem + chain.encode("ascii"))
                self._loaded = _parse(self.path.read_bytes())
            return self._loaded


def _parse(pem: bytes) -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the Content Credentials key file does not hold an EC private key")
    certificates = x509.load_pem_x509_certificates(pem)
    return key, b"".join(c.public_bytes(_PEM) for c in certificates).decode("ascii")
