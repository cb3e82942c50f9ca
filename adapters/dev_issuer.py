"""The local identity provider: RS256 tokens signed with a key kept on this machine.

The embedded shape has no Entra tenant, so it mints its own tokens and validates
them with the same `TokenValidator` the Azure shape uses, against `jwks()`. The
key is created once, private to its owner, and shared by every process that
points at the same file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from adapters.jwt_auth import ALGORITHM, StaticJwks, TokenValidator
from adapters.private_files import create_once
from domain.access import Role

DEV_TENANT = "dev"
KEY_BITS = 2048


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of an RSA JWK: a kid that names the key itself."""
    required = {"e": jwk["e"], "kty": jwk["kty"], "n": jwk["n"]}
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class DevIssuer:
    def __init__(
        self,
        key_path: Path,
        issuer: str = "https://donatello.local/dev",
        audience: str = "api://donatello",
        department_claim: str = "department",
    ) -> None:
        self.key_path = key_path
        self.issuer = issuer
        self.audience = audience
        self.department_claim = department_claim
        self._lock = threading.Lock()
        self._signing: tuple[rsa.RSAPrivateKey, dict[str, Any]] | None = None

    def jwks(self) -> dict[str, Any]:
        _, public = self._signing_key()
        return {"keys": [dict(public)]}

    def validator(self) -> TokenValidator:
        """The validator the local shape uses: the production code path, our keys."""
        return TokenValidator(
            StaticJwks(self.jwks()),
            issuer=self.issuer,
            audience=self.audience,
            allowed_tenants={DEV_TENANT},
            department_claim=self.department_claim,
        )

    def mint(
        self,
        user_id: str,
        roles: Iterable[Role | str],
        department_id: str | None,
        ttl: timedelta = timedelta(hours=8),
        extra_claims: Mapping[str, Any] | None = None,
    ) -> str:
        """A signed token for `user_id`; `extra_claims` are added last and may override."""
        now = datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "oid": user_id,
            "tid": DEV_TENANT,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "roles": [str(role) for role in roles],
        }
        if department_id is not None:
            claims[self.department_claim] = department_id
        claims.update(extra_claims or {})
        private, public = self._signing_key()
        return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": public["kid"]})

    def _signing_key(self) -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
        with self._lock:
            if self._signing is None:
                private = _load_or_create(self.key_path)
                public: dict[str, Any] = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
                public.update(kid=jwk_thumbprint(public), use="sig", alg=ALGORITHM)
                self._signing = (private, public)
            return self._signing


def _load_or_create(path: Path) -> rsa.RSAPrivateKey:
    if not path.exists():
        _create(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return key


def _create(path: Path) -> None:
    pem = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    create_once(path, pem)
