"""The whole log in the store's replay order, a bounded page at a time, resumable.

Each store replays in the order it has: the embedded store (SQLite) in its global append
order, resumed after a position; Cosmos DB by `recorded_at`, stream id and version,
resumed after that key. The composition root, which knows which store it built, hands
the platform the matching `LogReplay` (`Platform.replay`), so nothing has to probe a
store for what it can do. Either way a replay hands out *cursors*: opaque text that
resumes the scan just after the event it was taken at.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from domain.envelope import Event, format_timestamp
from services.ports import EventLog, InvalidContinuation

SCAN_PAGE = 1000  # events fetched from the store at a time


class Window(Protocol):
    """The times and types a replay may narrow itself to (`services.audit_log.EventFilter`)."""

    @property
    def recorded_from(self) -> datetime | None: ...
    @property
    def recorded_to(self) -> datetime | None: ...  # exclusive
    @property
    def types(self) -> frozenset[str]: ...  # empty: every type


class LogReplay(Protocol):
    def scan(self, after: str | None, window: Window) -> Iterator[tuple[str, Event]]:
        """(cursor, event) for every event after the cursor `after`, perhaps only those
        in `window` (the caller still filters: a store may hand out more). Checks the
        cursor at once (not at the first `next`), so a bad one fails the call with
        `InvalidContinuation`."""
        ...


class PositionedReplay:
    """The embedded store's replay: its global positions are the cursors."""

    def __init__(self, log: EventLog) -> None:
        self._log = log

    def scan(self, after: str | None, window: Window) -> Iterator[tuple[str, Event]]:
        return self._from(_position(after))

    def _from(self, position: int) -> Iterator[tuple[str, Event]]:
        while page := self._log.read_all(position, SCAN_PAGE):
            for positioned in page:
                yield str(positioned.position), positioned.event
            position = page[-1].position


class OrderedLog(Protocol):
    """Cosmos DB: a cross-partition query in (recorded_at, stream id, version) order."""

    def read_all_ordered(
        self,
        *,
        recorded_from: datetime | None = None,
        recorded_before: datetime | None = None,
        types: frozenset[str] | None = None,
        page_size: int = 100,
    ) -> Iterator[Event]: ...


_Key = tuple[str, str, int]  # the formatted recorded_at, the stream id, the version


class OrderedReplay:
    """Cosmos DB's replay: "recorded_at|version|stream_id" are the cursors."""

    def __init__(self, log: OrderedLog) -> None:
        self._log = log

    def scan(self, after: str | None, window: Window) -> Iterator[tuple[str, Event]]:
        return self._after(_key(after), window)

    def _after(self, after: _Key | None, window: Window) -> Iterator[tuple[str, Event]]:
        start = window.recorded_from
        if after is not None:  # events of the cursor's instant may come again: skip up to it
            cursor_time = datetime.fromisoformat(after[0])
            start = cursor_time if start is None else max(start, cursor_time)
        events = self._log.read_all_ordered(
            recorded_from=start,
            recorded_before=window.recorded_to,
            types=window.types or None,
            page_size=SCAN_PAGE,
        )
        for event in events:
            key = (format_timestamp(event.recorded_at), event.stream_id, event.version)
            if after is None or key > after:
                yield f"{key[0]}|{key[2]}|{key[1]}", event


def _position(after: str | None) -> int:
    if after is None:
        return 0
    if not after.isdigit():
        raise InvalidContinuation("after is not a cursor this log issued")
    return int(after)


def _key(after: str | None) -> _Key | None:
    if after is None:
        return None
    try:
        recorded_at, version, stream_id = after.split("|", 2)
        datetime.fromisoformat(recorded_at)
        return recorded_at, stream_id, int(version)
    except ValueError:
        raise InvalidContinuation("after is not a cursor this log issued") from None
