"""Errors the use cases raise; entrypoints translate them (HTTP: problem+json)."""


class NotFound(Exception):
    """No such resource, or the caller may not know that it exists."""


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used with a different request."""
