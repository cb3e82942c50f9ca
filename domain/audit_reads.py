"""Reads of the audit trail are themselves facts in the log: who read what, and when.

Compliance has to be able to show not only what happened but who looked at it, so every
export, feed page and stream read appends an `AuditLogRead` to that UTC day's stream.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from domain.generation import Payload

AUDIT_READS_PREFIX = "audit-reads-"


def audit_reads_stream(day: date) -> str:
    """One stream per UTC day: small enough to fold, and easy to hand an auditor."""
    return f"{AUDIT_READS_PREFIX}{day.isoformat()}"


class AuditLogRead(Payload):
    """Someone was given events from the log.

    Recorded before the events leave the system, so `count` is known only where the
    read was complete before the answer went out (a stream read); an export or a feed
    page records its filters, and the events themselves are what it then streams.
    """

    TYPE: ClassVar[str] = "AuditLogRead"

    user_id: str
    department_id: str | None
    roles: tuple[str, ...]
    what: dict[str, Any]
    count: int | None = None
