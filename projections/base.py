"""What a projection is, and what the runner needs from the store that keeps its views.

A projection is a pure fold: `keys(event)` names the view documents an event touches
and `apply(view, event)` returns the next document. `apply` never mutates its input;
it returns the input itself (same object) when the event changes nothing, which is how
a redelivered event is recognised as already applied.

`fold`, where a projection offers it, is the same fold over a whole batch: it copies a
document once, folds every event of the batch into the copy in place and answers the
changed documents. It reads only the `Fact` fields, so a replay can feed it the
store's lightweight records instead of `Event` models.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from domain.envelope import Actor

View = dict[str, Any]


class Fact(Protocol):
    """What the projections read of an event; `Event` and the store's records have it."""

    @property
    def stream_id(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def recorded_at(self) -> datetime: ...
    @property
    def actor(self) -> Actor: ...
    @property
    def data(self) -> dict[str, Any]: ...


class PositionedFact(Fact, Protocol):
    @property
    def position(self) -> int: ...


@runtime_checkable
class FactLog(Protocol):
    """A log that can hand out `Fact` records, cheaper to build than `Event` models."""

    def read_all_records(
        self, after_position: int = 0, limit: int = 1000
    ) -> Sequence[PositionedFact]: ...


# The documents loaded for a batch, and the batch's (key, fact) pairs in log order.
BatchFold = Callable[[Mapping[str, View], Sequence[tuple[str, Fact]]], dict[str, View]]


@dataclass(frozen=True, slots=True)
class Projection:
    name: str
    keys: Callable[[Fact], tuple[str, ...]]
    apply: Callable[[View | None, Fact], View]
    # The document field `ViewReader.list(projection, partition)` filters on, if any.
    partition_field: str | None = None
    # Folds a batch into the loaded documents; must agree with `apply` event by event.
    fold: BatchFold | None = None
    # The event types `keys` can name a document for, if known: the runner asks `keys`
    # about these only.
    types: frozenset[str] | None = None


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
    if moment.tzinfo is UTC:  # what the stores hand out: skip the offset arithmetic
        return moment.isoformat(timespec="microseconds")
    offset = moment.utcoffset()
    if offset is None:
        moment = moment.replace(tzinfo=UTC)
    elif offset:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")
