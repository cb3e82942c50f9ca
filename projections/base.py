"""What a projection is, and what the runner needs from the store that keeps its views.

A projection is a pure fold: `keys(event)` names the view documents an event touches
and `apply(view, event)` returns the next document. `apply` never mutates its input;
it returns the input itself (same object) when the event changes nothing, which is how
a redelivered event is recognised as already applied.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from domain.envelope import Event

View = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Projection:
    name: str
    keys: Callable[[Event], tuple[str, ...]]
    apply: Callable[[View | None, Event], View]
    # The document field `ViewReader.list(projection, partition)` filters on, if any.
    partition_field: str | None = None


@dataclass(frozen=True, slots=True)
class ViewBatch:
    """The documents one batch changed and the log position they bring the view up to.

    `expected_position` makes the write a compare-and-set: a runner that read a stale
    position (another runner got there first) fails instead of writing older documents.
    """

    projection: str
    documents: Mapping[str, View]
    position: int
    expected_position: int | None = None
    partition_field: str | None = None


class ViewWriter(Protocol):
    def positions(self, projections: Collection[str]) -> dict[str, int]: ...

    def get_many(self, projection: str, keys: Collection[str]) -> dict[str, View]: ...

    def apply_batches(self, batches: Sequence[ViewBatch]) -> None: ...


class StalePosition(Exception):
    """The view's position moved since the batch was read: another runner applied it."""

    def __init__(self, projection: str, expected: int, actual: int) -> None:
        super().__init__(f"view {projection!r} is at position {actual}, expected {expected}")
        self.projection = projection
        self.expected = expected
        self.actual = actual


def timestamp(moment: datetime) -> str:
    """ISO 8601 UTC at fixed width, so stored times sort as text. Naive means UTC."""
    offset = moment.utcoffset()
    if offset is None:
        moment = moment.replace(tzinfo=UTC)
    elif offset:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")
