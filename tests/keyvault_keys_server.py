"""The local Key Vault (`tests.keyvault_server`) with the keys operations Content
Credentials signing needs, as a Function App holding only the `keys/sign` permission
sees them:

- `POST /keys/{name}/{version}/sign?api-version=...` with `{"alg": "ES256", "value":
  <base64url digest>}` answers `{"kid": ..., "value": <base64url r || s>}`, the JWS
  form Key Vault uses. Any other algorithm is refused with 400 `BadParameter`.
- `GET /keys/{name}[/{version}]` answers 403 `Forbidden`: the role allows signing and
  nothing else, so the SDK's `CryptographyClient` cannot fetch the key and signs
  remotely.

`add_certificate(name)` makes what creating a Key Vault certificate with a
non-exportable EC key does: a key that stays in the vault, a certificate for it (here
issued by a CA made on the spot), and the certificate's secret holding the PEM chain
alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from adapters.local_signing_key import issue_chain
from tests.keyvault_server import KeyVaultServer, _Answer

PEM_FILE = "application/x-pem-file"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class KeyVaultKeysServer(KeyVaultServer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.signatures = 0

    def add_certificate(self, name: str) -> str:
        """A certificate whose key never leaves the vault; returns its chain (PEM)."""
        key, chain = issue_chain("Vault Test Org", ec.generate_private_key(ec.SECP256R1()))
        with self._lock:
            self._keys[name.lower()] = key
        self.set_secret(name, chain, content_type=PEM_FILE)
        return chain

    def _route(
        self, path: str, api_version: str | None, authorized: bool, method: str, body: bytes
    ) -> _Answer:
        parts = [unquote(p) for p in path.split("/")]
        if not authorized or parts[1:2] != ["keys"] or api_version is None:
            return super()._route(path, api_version, authorized, method, body)
        if method == "POST" and len(parts) == 5 and parts[4] == "sign":
            return self._sign(parts[2], json.loads(body))
        return _Answer.error(
            HTTPStatus.FORBIDDEN,
            "Forbidden",
            "The policy does not allow keys/get",
            "ForbiddenByRbac",
        )

    def _sign(self, name: str, request: dict[str, Any]) -> _Answer:
        key = self._keys.get(name.lower())
        if key is None:
            return _Answer.error(404, "KeyNotFound", f"A key with (name/id) {name} was not found")
        digest = _unb64url(str(request.get("value", "")))
        if request.get("alg") != "ES256" or len(digest) != hashlib.sha256().digest_size:
            return _Answer.error(400, "BadParameter", "ES256 signs a 32-byte SHA-256 digest")
        der = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        r, s = decode_dss_signature(der)
        self.signatures += 1
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return _Answer(200, {"kid": f"{self.url}/keys/{name}/1", "value": _b64url(signature)})

    def _handler_class(self) -> type[Any]:
        base = super()._handler_class()

        class Handler(base):  # type: ignore[misc, valid-type]
            def do_POST(self) -> None:
                self._serve("POST")

        return Handler
