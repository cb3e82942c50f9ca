"""Reading the audit trail for compliance: one stream, or the whole log filtered.

Every read is authorised (`audit.read`: Compliance.Auditor and the admins) and recorded
with `record_read` before any event is handed out. Reading never decrypts anything:
prompts stay in the sealed form the log holds them in (`SealedText`), so an audit
export carries no prompt text; what a person's prompts said is the subject-access
export's business, under its own permission.

The whole log is read in the store's replay order (services/log_replay.py), a bounded
page at a time, so an export of any size holds one page of events in memory; a read
hands out the replay's cursors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from domain.access import Action, Principal, authorize
from domain.envelope import Event, format_timestamp
from domain.event_types import EVENT_TYPES, unknown_types
from domain.generation import GenerationRequested
from services.audit_reads import LogAccess, record_read
from services.errors import NotFound
from services.log_replay import SCAN_PAGE, LogReplay
from services.ports import InvalidContinuation
from services.subject_streams import SubjectIndex, SubjectStream, subject_streams

MAX_PAGE_EVENTS = 1000  # the most events one feed page answers with
# A page with a narrow filter may have to pass over many events that do not match; it
# stops after this many and answers with a cursor, so no request runs unbounded.
MAX_PAGE_SCAN = 20 * SCAN_PAGE


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events to read; every condition given must hold. `recorded_to` is exclusive.

    `user_id` matches the events the person acted (their requests, reads, budget
    changes), not the later steps of their generations, which the system acts.
    `subject_id` matches every event about the person: all of their generations' events,
    their quota and privacy streams, the budget events naming them, and what they acted.
    `subject_streams` are that person's streams known before the scan (`about_subject`);
    generations requested during the scan are found as their requests go by.
    `department_id` matches the events whose data names the department: a generation's
    request, a budget's events, not the later steps of a generation (find those by the
    request's stream).
    """

    recorded_from: datetime | None = None
    recorded_to: datetime | None = None
    types: frozenset[str] = frozenset()
    user_id: str | None = None
    department_id: str | None = None
    subject_id: str | None = None
    subject_streams: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for moment in (self.recorded_from, self.recorded_to):
            if moment is not None and moment.utcoffset() is None:
                raise ValueError("times need a UTC offset, as in 2026-11-23T10:00:00+11:00")
        if unknown := unknown_types(self.types):
            known = ", ".join(sorted(EVENT_TYPES))
            raise ValueError(f"no event type {', '.join(unknown)}; the types are {known}")

    def matches(self, event: Event) -> bool:
        return (
            (self.recorded_from is None or event.recorded_at >= self.recorded_from)
            and (self.recorded_to is None or event.recorded_at < self.recorded_to)
            and (not self.types or event.type in self.types)
            and (self.user_id is None or event.actor.user_id == self.user_id)
            and (
                self.department_id is None or event.data.get("department_id") == self.department_id
            )
        )

    def described(self) -> dict[str, Any]:
        """The filter as recorded in an `AuditLogRead`: only the conditions given."""
        described: dict[str, Any] = {
            "from": None if self.recorded_from is None else format_timestamp(self.recorded_from),
            "to": None if self.recorded_to is None else format_timestamp(self.recorded_to),
            "types": sorted(self.types) or None,
            "user_id": self.user_id,
            "department_id": self.department_id,
            "subject_id": self.subject_id,
        }
        return {key: value for key, value in described.items() if value is not None}


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One page of the feed. `after` resumes the scan where this page stopped (to poll
    for newer events, too); `more` says whether the log held more when it stopped."""

    events: list[Event]
    after: str | None
    more: bool


def audit_stream(platform: LogAccess, principal: Principal, stream_id: str) -> list[Event]:
    """A stream's events as recorded, for an auditor; the read is recorded with its count."""
    authorize(principal, Action.AUDIT_READ)
    events = platform.store.read_stream(stream_id)
    if not events:
        raise NotFound(f"no stream {stream_id!r}")
    record_read(platform, principal, {"stream_id": stream_id}, count=len(events))
    return events


SUBJECT_STREAMS_ROUTE = "v1/audit/subjects/{user_id}/streams"


class FeedAccess(LogAccess, Protocol):
    """Reading the whole log: the store's replay besides what recording the read needs."""

    @property
    def replay(self) -> LogReplay | None: ...


class AuditIndex(LogAccess, SubjectIndex, Protocol):
    """Reading a person's streams for an auditor: the store, the views, the clock."""


def audit_subject_streams(
    platform: AuditIndex, principal: Principal, subject_id: str
) -> list[SubjectStream]:
    """The streams that concern a person, for an auditor; the read is recorded first."""
    authorize(principal, Action.AUDIT_READ)
    streams = subject_streams(platform, subject_id)
    what = {"route": SUBJECT_STREAMS_ROUTE, "subject_id": subject_id}
    record_read(platform, principal, what, count=sum(len(s.events) for s in streams))
    return streams


def feed_page(
    platform: FeedAccess,
    principal: Principal,
    wanted: EventFilter,
    *,
    after: str | None,
    limit: int,
    route: str,
) -> FeedPage:
    """Up to `limit` matching events after the cursor `after`, the read recorded first."""
    authorize(principal, Action.AUDIT_READ)
    if not 0 < limit <= MAX_PAGE_EVENTS:
        raise InvalidContinuation(f"limit must be 1 to {MAX_PAGE_EVENTS}")
    scan = _scan(platform, wanted, after)  # a bad cursor fails before the record
    what = {"route": route, "filters": wanted.described(), "after": after, "limit": limit}
    record_read(platform, principal, what)
    events: list[Event] = []
    cursor, scanned = after, 0
    selects = _selector(wanted)
    for cursor_here, event in scan:
        cursor, scanned = cursor_here, scanned + 1
        if selects(event):
            events.append(event)
        if len(events) == limit or scanned == MAX_PAGE_SCAN:
            return FeedPage(events, cursor, more=True)
    return FeedPage(events, cursor, more=False)


def export_events(
    platform: FeedAccess, principal: Principal, wanted: EventFilter, *, command: str
) -> Iterator[Event]:
    """Every matching event, lazily, one store page at a time; recorded before it starts.

    Not a generator itself, so the read is recorded (and refused) when this is called,
    not when the first event is asked for.
    """
    authorize(principal, Action.AUDIT_READ)
    scan = _scan(platform, wanted, None)
    record_read(platform, principal, {"command": command, "filters": wanted.described()})
    selects = _selector(wanted)
    return (event for _, event in scan if selects(event))


def about_subject(platform: SubjectIndex, subject_id: str) -> frozenset[str]:
    """The person's own streams (generations, quota days, privacy) known now, to seed
    an `EventFilter.subject_streams`."""
    return frozenset(
        s.stream_id for s in subject_streams(platform, subject_id) if s.kind != "budget"
    )


def _selector(wanted: EventFilter) -> Callable[[Event], bool]:
    subject = wanted.subject_id
    if subject is None:
        return wanted.matches
    streams = set(wanted.subject_streams)

    def selects(event: Event) -> bool:
        if event.type == GenerationRequested.TYPE and event.data.get("user_id") == subject:
            streams.add(event.stream_id)  # its later steps are the system's, but about them
        return wanted.matches(event) and (
            event.stream_id in streams
            or event.actor.user_id == subject
            or subject in (event.data.get("user_id"), event.data.get("subject_id"))
        )

    return selects


def _scan(
    platform: FeedAccess, wanted: EventFilter, after: str | None
) -> Iterator[tuple[str, Event]]:
    if platform.replay is None:
        raise TypeError(f"{type(platform.store).__name__} cannot replay the whole log")
    return platform.replay.scan(after, wanted)
