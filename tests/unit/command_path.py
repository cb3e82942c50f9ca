"""A small aggregate and a read-counting store for the command path's tests
(services/repository.py, services/commands.py): a counter stream of `Tick` events,
folded on a real SQLite event store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from adapters.sqlite_event_store import SqliteEventStore
from domain.envelope import Event, NewEvent
from domain.generation import Payload
from services.commands import Stamp
from services.repository import Aggregate


class Tick(Payload):
    TYPE: ClassVar[str] = "Tick"

    n: int


@dataclass(frozen=True, slots=True)
class Count:
    version: int = 0
    total: int = 0  # the sum of the ticks' n


def _evolve(state: Count, event: Event) -> Count:
    return Count(event.version, state.total + Tick.model_validate(event.data).n)


def _to_snapshot(state: Count) -> dict[str, Any]:
    return {"version": state.version, "total": state.total}


def _from_snapshot(state: dict[str, Any]) -> Count:
    return Count(state["version"], state["total"])


COUNTER: Aggregate[Count] = Aggregate(
    "counter",
    lambda _: Count(),
    _evolve,
    to_snapshot=_to_snapshot,
    from_snapshot=_from_snapshot,
)
STAMP = Stamp(UUID("00000000-0000-4000-8000-000000000001"))


def ticks(*ns: int) -> list[NewEvent]:
    return STAMP.events([Tick(n=n) for n in ns])


class CountingStore:
    """The real store, noting each stream read as (stream id, from version)."""

    def __init__(self, store: SqliteEventStore) -> None:
        self.store = store
        self.reads: list[tuple[str, int]] = []

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        head_hash: str | None = None,
    ) -> list[Event]:
        return self.store.append(stream_id, expected_version, events, head_hash=head_hash)

    def read_stream(self, stream_id: str, from_version: int = 1) -> list[Event]:
        self.reads.append((stream_id, from_version))
        return self.store.read_stream(stream_id, from_version)

    def find_event(self, stream_id: str, event_id: UUID) -> Event | None:
        return self.store.find_event(stream_id, event_id)
