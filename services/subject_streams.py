"""The streams that concern a person, found without knowing their ids.

A person's generations are listed by the history view; each generation's stream names
the budget months it was reserved on and the Sydney day its quota was taken, and the
person's privacy stream is named after them. Those are the streams the subject-access
export reads, and the ones `GET /audit/subjects/{user_id}/streams` lists with their
counts. What a person did as an admin or auditor (a budget set, a read of the log) is
in shared streams acted by them: the audit feed's `user_id` filter finds those.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Literal, Protocol
from uuid import UUID

from domain.access import OwnedBy
from domain.envelope import Event
from domain.generation import GenerationRequested, GenerationRerouted, GenerationRouted
from domain.quota import quota_day
from domain.streams import generation_stream, privacy_stream, quota_stream
from services.ports import EventStore, HistoryQuery, ViewReader

_HISTORY_PAGE = 200
_ROUTING_TYPES = frozenset({GenerationRouted.TYPE, GenerationRerouted.TYPE})

Kind = Literal["generation", "budget", "quota", "privacy"]


class SubjectIndex(Protocol):
    """What finding a person's streams needs of the platform."""

    @property
    def store(self) -> EventStore: ...

    @property
    def views(self) -> ViewReader: ...


@dataclass(frozen=True, slots=True)
class SubjectStream:
    kind: Kind
    stream_id: str
    # The stream's events that concern the person: all of them, but for a budget month
    # (shared by a department) only those naming the person.
    events: list[Event]
    view: dict[str, Any] | None = None  # a generation's history view


def subject_streams(platform: SubjectIndex, subject_id: str) -> list[SubjectStream]:
    """Every stream that concerns the person, with its events about them; empty ones left out."""
    found: list[SubjectStream] = []
    budget_streams: set[str] = set()
    days: set[date] = set()
    for view in subject_generations(platform, subject_id):
        stream_id = generation_stream(UUID(view["id"]))
        events = platform.store.read_stream(stream_id)
        found.append(SubjectStream("generation", stream_id, events, view))
        budget_streams.update(
            e.data["budget_stream_id"] for e in events if e.type in _ROUTING_TYPES
        )
        days.update(quota_day(e.recorded_at) for e in events if e.type == GenerationRequested.TYPE)
    for stream_id in sorted(budget_streams):
        naming = [
            e for e in platform.store.read_stream(stream_id) if e.data.get("user_id") == subject_id
        ]
        found.append(SubjectStream("budget", stream_id, naming))
    for day in sorted(days):
        stream_id = quota_stream(subject_id, day)
        found.append(SubjectStream("quota", stream_id, platform.store.read_stream(stream_id)))
    own = privacy_stream(subject_id)
    found.append(SubjectStream("privacy", own, platform.store.read_stream(own)))
    return [stream for stream in found if stream.events]


def subject_generations(platform: SubjectIndex, subject_id: str) -> Iterator[dict[str, Any]]:
    """The person's generations as the history view lists them, every page."""
    subject = OwnedBy(subject_id)
    query = HistoryQuery(limit=_HISTORY_PAGE)
    while True:
        page = platform.views.history(subject, query)
        yield from page.items
        if page.continuation is None:
            return
        query = replace(query, continuation=page.continuation)
