"""Bearer-token validation: RS256 JWTs checked against a JWKS, turned into a Principal.

One code path serves both shapes: Entra ID tokens against the tenant's JWKS in
Azure, and the dev issuer's tokens against its static JWKS locally. Only RS256 is
accepted, whatever the token header claims, so neither `none` nor an HMAC keyed
with the public key can slip through. Reasons in errors never include the token.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any, Protocol

import httpx
import jwt

from domain.access import Principal, Role
from services.identity import AuthenticationError, JwksUnavailable

ALGORITHM = "RS256"
# Entra access tokens are a few KB; anything far larger is not worth parsing.
MAX_TOKEN_LENGTH = 16_384
_KNOWN_ROLES = {role.value: role for role in Role}


class JwksSource(Protocol):
    def fetch(self) -> dict[str, Any]:
        """The current JWKS document; raises JwksUnavailable when it cannot be had."""
        ...


class StaticJwks:
    """A JWKS known up front, such as the dev issuer's."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._document = dict(document)

    def fetch(self) -> dict[str, Any]:
        return self._document


class HttpJwks:
    """A JWKS served over HTTPS, such as `entra_jwks_url(tenant)`."""

    def __init__(self, url: str, client: httpx.Client | None = None, timeout: float = 5.0) -> None:
        self._url = url
        self._client = client
        self._timeout = timeout

    def fetch(self) -> dict[str, Any]:
        try:
            # Fetches are rate-limited to a few an hour, so a fresh connection is fine.
            if self._client is None:
                response = httpx.get(self._url, timeout=self._timeout)
            else:
                response = self._client.get(self._url, timeout=self._timeout)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise JwksUnavailable(f"cannot fetch JWKS from {self._url}: {error}") from error
        if not isinstance(document, dict):
            raise JwksUnavailable(f"JWKS from {self._url} is not a JSON object")
        return document


def entra_issuer(tenant_id: str) -> str:
    """The `iss` of Entra ID v2.0 access tokens for `tenant_id`."""
    return f"https://login.microsoftonline.com/{tenant_id}/v2.0"


def entra_jwks_url(tenant_id: str) -> str:
    return f"https://login.microsoftonline.com/{tenant_id}/discovery/v2.0/keys"


class TokenValidator:
    """Validates RS256 bearer tokens and returns the Principal they vouch for (the
    services' `Authenticator`).

    Keys are cached by `kid`. A token signed with an unknown `kid` triggers one
    refresh of the JWKS (key rotation), at most once per `min_refresh_interval`
    seconds so a stream of forged kids cannot hammer the identity provider; the
    whole set is also refreshed after `max_key_age` seconds so retired keys expire.
    Safe to share between threads.
    """

    def __init__(
        self,
        jwks: JwksSource,
        *,
        issuer: str | Iterable[str],
        audience: str | Iterable[str],
        allowed_tenants: Iterable[str] | None = None,
        department_claim: str = "department",
        leeway: timedelta = timedelta(seconds=60),
        min_refresh_interval: float = 60.0,
        max_key_age: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._jwks = jwks
        self._issuer = issuer if isinstance(issuer, str) else list(issuer)
        self._audience = audience if isinstance(audience, str) else list(audience)
        self._allowed_tenants = None if allowed_tenants is None else frozenset(allowed_tenants)
        self._department_claim = department_claim
        self._leeway = leeway
        self._min_refresh_interval = min_refresh_interval
        self._max_key_age = max_key_age
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded = False
        self._loaded_at = -math.inf
        self._attempted_at = -math.inf

    def validate(self, token: str) -> Principal:
        """Raises AuthenticationError for a bad token, JwksUnavailable when keys cannot be had."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise AuthenticationError("malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:
            raise AuthenticationError("malformed token") from error
        if header.get("alg") != ALGORITHM:
            raise AuthenticationError("unsupported signing algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationError("token has no key id")
        claims = self._decode(token, self._signing_key(kid))
        return self._principal(claims)

    def _signing_key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            now = self._clock()
            if not self._loaded:
                if not self._may_fetch(now):
                    raise JwksUnavailable("signing keys not loaded yet")
                self._refresh(now)
            elif now - self._loaded_at >= self._max_key_age and self._may_fetch(now):
                # Keep serving with the old keys if the provider is briefly down.
                with contextlib.suppress(JwksUnavailable):
                    self._refresh(now)
            key = self._keys.get(kid)
            if key is None and self._may_fetch(now):
                self._refresh(now)
                key = self._keys.get(kid)
        if key is None:
            raise AuthenticationError("unknown signing key")
        return key

    def _may_fetch(self, now: float) -> bool:
        return now - self._attempted_at >= self._min_refresh_interval

    def _refresh(self, now: float) -> None:
        # Record the attempt before fetching: a failing provider is rate-limited too.
        self._attempted_at = now
        self._keys = _signing_keys(self._jwks.fetch())
        self._loaded = True
        self._loaded_at = now

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={
                    "require": ["exp", "iat", "iss", "aud"],
                    "verify_signature": True,
                    "verify_exp": True,
                    "verify_nbf": True,
                    "verify_iat": True,
                    "verify_iss": True,
                    "verify_aud": True,
                },
            )
        except jwt.ExpiredSignatureError as error:
            raise AuthenticationError("token expired") from error
        except jwt.ImmatureSignatureError as error:
            raise AuthenticationError("token not yet valid") from error
        except jwt.InvalidAudienceError as error:
            raise AuthenticationError("wrong audience") from error
        except jwt.InvalidIssuerError as error:
            raise AuthenticationError("wrong issuer") from error
        except jwt.InvalidSignatureError as error:
            raise AuthenticationError("bad signature") from error
        except jwt.MissingRequiredClaimError as error:
            raise AuthenticationError(f"missing claim {error.claim}") from error
        except jwt.InvalidTokenError as error:
            raise AuthenticationError("invalid token") from error

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        tenant_id = _text(claims.get("tid"))
        if self._allowed_tenants is not None and tenant_id not in self._allowed_tenants:
            raise AuthenticationError("tenant not allowed")
        # `oid` is stable across apps in the tenant; `sub` is per app and the fallback.
        user_id = _text(claims.get("oid")) or _text(claims.get("sub"))
        if user_id is None:
            raise AuthenticationError("token names no user")
        raw_roles = claims.get("roles")
        roles = frozenset(
            _KNOWN_ROLES[name]
            for name in (raw_roles if isinstance(raw_roles, list) else [])
            if isinstance(name, str) and name in _KNOWN_ROLES
        )
        return Principal(
            user_id=user_id,
            roles=roles,
            department_id=_text(claims.get(self._department_claim)),
            tenant_id=tenant_id,
        )


def _signing_keys(document: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    """The RS256 signature keys of a JWKS, by kid; other keys are skipped."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise JwksUnavailable("JWKS document has no key list")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kid = entry.get("kid")
        if (
            not isinstance(kid, str)
            or entry.get("kty") != "RSA"
            or entry.get("use", "sig") != "sig"
            or entry.get("alg", ALGORITHM) != ALGORITHM
        ):
            continue
        try:
            keys[kid] = jwt.PyJWK(entry, algorithm=ALGORITHM)
        except (jwt.PyJWKError, jwt.InvalidKeyError):
            continue
    return keys


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
