"""Who is calling: the port that turns a bearer token into a Principal, and its failures.

The HTTP triggers authenticate every request through an `Authenticator` the composition
root chose (Entra ID's keys in Azure, the dev issuer's locally: adapters/jwt_auth.py);
`TokenIssuer` is what mints the embedded host's dev tokens (adapters/dev_issuer.py).
The errors are the services' so that a trigger answers 401 or 503 without knowing which
validator raised them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from domain.access import Principal


class AuthenticationError(Exception):
    """The request carries no valid token (HTTP 401). `reason` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JwksUnavailable(Exception):
    """The signing keys could not be fetched: a dependency is down (HTTP 503)."""


class Authenticator(Protocol):
    def validate(self, token: str) -> Principal:
        """Raises AuthenticationError for a bad token, JwksUnavailable when keys cannot be had."""
        ...


class TokenIssuer(Protocol):
    def mint(
        self, user: str, roles: Sequence[str], department: str | None, /, *, ttl: timedelta
    ) -> str:
        """A signed token that `user` holds `roles` (in `department`) for `ttl`."""
        ...


def bearer_token(authorization_header: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    if authorization_header is None or not authorization_header.strip():
        raise AuthenticationError("missing bearer token")
    parts = authorization_header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise AuthenticationError("malformed authorization header")
    return parts[1]
