"""Errors the use cases raise; entrypoints translate them (HTTP: problem+json)."""

from __future__ import annotations

from domain.access import AccessDenied


class NotFound(Exception):
    """No such resource, or the caller may not know that it exists.

    `denied` is set in the second case: the answer must be the same as for a missing
    resource, but the refusal behind it is still logged.
    """

    def __init__(self, message: str, *, denied: AccessDenied | None = None) -> None:
        super().__init__(message)
        self.denied = denied


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used with a different request."""
