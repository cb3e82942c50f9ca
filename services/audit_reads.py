"""`record_read`: the one way a read of the audit trail or of a subject's data is logged.

Callers record *before* the data leaves the system: if the answer is sent at all, the
record of it exists. A read that then fails half way is recorded too, which errs on the
side compliance wants (a recorded read that delivered less, never an unrecorded one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import uuid4

from domain.access import Principal
from domain.audit_reads import AuditLogRead, audit_reads_stream
from domain.envelope import Event
from domain.generation import Payload
from services.aggregates import FACTS
from services.commands import Stamp, execute
from services.log_replay import LogReplay
from services.ports import EventStore
from services.repository import Repository


class LogAccess(Protocol):
    """What reading and recording need of the platform: `services.context.Platform` has it,
    and so does `AuditAccess`, for the commands that read the log without the whole
    platform (its PII analyzer takes seconds to load)."""

    @property
    def store(self) -> EventStore: ...

    @property
    def repository(self) -> Repository: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...


@dataclass(frozen=True, slots=True)
class AuditAccess:
    store: EventStore
    clock: Callable[[], datetime]
    repository: Repository  # over `store`
    replay: LogReplay | None = None  # for the feeds of services/audit_log.py


def record_read(
    platform: LogAccess, principal: Principal, what: dict[str, Any], count: int | None = None
) -> Event:
    """Append an `AuditLogRead` saying `principal` read `what` (a JSON-able description:
    the route or command and its filters); `count` when the number of events is known."""
    payload = AuditLogRead(
        user_id=principal.user_id,
        department_id=principal.department_id,
        roles=tuple(sorted(role.value for role in principal.roles)),
        what=what,
        count=count,
    )
    stream_id = audit_reads_stream(platform.clock().date())
    return append_daily(platform.repository, stream_id, payload, principal)


def append_daily(
    repository: Repository, stream_id: str, fact: Payload, principal: Principal
) -> Event:
    """Append `fact`, done by `principal`, to a stream of one day's records, whatever its
    head is now.

    Such a stream holds independent facts, so a conflict only moves the append on. The
    append is made at the head this process saw last, with no read before it; the first
    of the day in a process, and each conflict, read the day from a snapshot and its tail.
    """
    decided = execute(
        repository,
        FACTS,
        stream_id,
        lambda _: [fact],
        Stamp(uuid4(), principal.to_actor()),
        # The head this process saw last, read from nowhere: usually still the head.
        start=repository.known(FACTS, stream_id),
    )
    (recorded,) = decided.recorded
    return recorded
