"""`record_read`: the one way a read of the audit trail or of a subject's data is logged.

Callers record *before* the data leaves the system: if the answer is sent at all, the
record of it exists. A read that then fails half way is recorded too, which errs on the
side compliance wants (a recorded read that delivered less, never an unrecorded one).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import uuid4

from domain.access import Principal
from domain.audit_reads import AuditLogRead, audit_reads_stream
from domain.envelope import Event, NewEvent
from services.log_replay import LogReplay
from services.ports import ConcurrencyError, EventStore

MAX_CONFLICT_RETRIES = 50


class LogAccess(Protocol):
    """What reading and recording need of the platform: `services.context.Platform` has it,
    and so does `AuditAccess`, for the commands that read the log without the whole
    platform (its PII analyzer takes seconds to load)."""

    @property
    def store(self) -> EventStore: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...


@dataclass(frozen=True, slots=True)
class AuditAccess:
    store: EventStore
    clock: Callable[[], datetime]
    replay: LogReplay | None = None  # for the feeds of services/audit_log.py


# The day streams only grow, so the last version this process saw is a good first guess
# at the next append's expected version: a conflict names the real head, and we retry
# there instead of reading the whole day's stream back.
_heads: dict[str, int] = {}
_heads_lock = threading.Lock()


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
    new = NewEvent(
        type=AuditLogRead.TYPE,
        data=payload.model_dump(mode="json"),
        actor=principal.to_actor(),
        correlation_id=uuid4(),
    )
    return append_daily(platform.store, audit_reads_stream(platform.clock().date()), new)


def append_daily(store: EventStore, stream_id: str, new: NewEvent) -> Event:
    """Append `new` to a stream of one day's records, whatever its head is now.

    Such a stream holds independent facts, so a conflict only moves the append on.
    """
    with _heads_lock:
        expected = _heads.get(stream_id, 0)
    for _ in range(MAX_CONFLICT_RETRIES):
        try:
            (recorded,) = store.append(stream_id, expected, [new])
        except ConcurrencyError as conflict:
            expected = conflict.actual
            continue
        with _heads_lock:
            _heads[stream_id] = max(_heads.get(stream_id, 0), recorded.version)
        return recorded
    raise RuntimeError(f"could not append to {stream_id} after {MAX_CONFLICT_RETRIES} conflicts")
