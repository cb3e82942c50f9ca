"""A real event store seen through a wrapper, for tests that watch what the platform asks
of it (its stream reads) or disturb it (a crash, a racing writer, just before an append)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from domain.envelope import Event, NewEvent
from services.ports import EventStore


class Forwarding:
    """`inner`, unchanged: subclasses override what they watch or disturb."""

    def __init__(self, inner: EventStore) -> None:
        self.inner = inner

    def before_append(self, stream_id: str, expected_version: int) -> None:
        """Called before each append is handed on."""

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        head_hash: str | None = None,
    ) -> list[Event]:
        self.before_append(stream_id, expected_version)
        return self.inner.append(stream_id, expected_version, events, head_hash=head_hash)

    def read_stream(self, stream_id: str, from_version: int = 1) -> list[Event]:
        return self.inner.read_stream(stream_id, from_version)

    def find_event(self, stream_id: str, event_id: UUID) -> Event | None:
        return self.inner.find_event(stream_id, event_id)


class ReadsCounted(Forwarding):
    """`inner`, noting each stream read as (stream id, from version)."""

    def __init__(self, inner: EventStore) -> None:
        super().__init__(inner)
        self.reads: list[tuple[str, int]] = []

    def read_stream(self, stream_id: str, from_version: int = 1) -> list[Event]:
        self.reads.append((stream_id, from_version))
        return super().read_stream(stream_id, from_version)
