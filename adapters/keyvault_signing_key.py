"""The Azure shape's Content Credentials key: a Key Vault certificate whose private key
never leaves the vault.

Signing sends SHA-256 of the claim to Key Vault's `sign` operation (ES256) through
`CryptographyClient`; the app's identity holds a role that allows `keys/sign` on that
key and nothing else, so it can neither read nor export the key (infra/bicep). Key
Vault answers ES256 signatures as r || s (JWS form); C2PA's COSE layer takes the DER
form that `cryptography` writes, so the two halves are re-encoded.

The certificate chain is public: it comes from the certificate's secret, which for a
certificate whose key is not exportable holds the certificates alone.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable

from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

_P256_HALF = 32  # bytes of r, and of s, in an ES256 signature


class KeyVaultSigningKey:
    def __init__(self, crypto: CryptographyClient, chain: Callable[[], str]) -> None:
        self._crypto = crypto
        self._read_chain = chain
        self._lock = threading.Lock()
        self._chain: str | None = None

    def certificate_chain(self) -> str:
        with self._lock:
            if self._chain is None:
                self._chain = self._read_chain()
            return self._chain

    def sign(self, data: bytes) -> bytes:
        digest = hashlib.sha256(data).digest()
        signature = self._crypto.sign(SignatureAlgorithm.es256, digest).signature
        if len(signature) != 2 * _P256_HALF:
            raise ValueError(f"Key Vault answered a {len(signature)}-byte ES256 signature")
        r = int.from_bytes(signature[:_P256_HALF], "big")
        s = int.from_bytes(signature[_P256_HALF:], "big")
        return encode_dss_signature(r, s)
