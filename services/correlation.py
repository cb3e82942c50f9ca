"""The correlation id: what ties together the log lines of one request or message.

A context variable, not an adapter: the triggers set it (`correlated`) around the work
they hand to the services, and whatever logs meanwhile is stamped with it (the log
hygiene of adapters/json_logs.py reads it at record creation). A caller's id is kept
across hops only when it is a plain id (`safe_correlation_id`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

CORRELATION_HEADER = "X-Correlation-Id"

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# A client-chosen id is kept only if it cannot forge a log line or carry a payload.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def safe_correlation_id(candidate: str | None) -> str:
    """`candidate` if it is a plain id, else a new one."""
    if candidate and _SAFE_ID.match(candidate):
        return candidate
    return str(uuid.uuid4())


@contextmanager
def correlated(value: str) -> Iterator[str]:
    """Log everything inside under the correlation id `value`."""
    token = correlation_id.set(value)
    try:
        yield value
    finally:
        correlation_id.reset(token)
