"""What a projection is, and what the runner needs from the log and the views.

A projection is a pure fold: `keys(event)` names the view documents an event touches
and `apply(view, event)` returns the next document. `apply` never mutates its input;
it returns the input itself (same object) when the event changes nothing, which is how
a redelivered event is recognised as already applied.

`fold`, where a projection offers it, is the same fold over a whole batch: it copies a
document once, folds every event of the batch into the copy in place and answers the
changed documents. It reads only the `Fact` fields, so a replay can feed it `Record`s
(or the store's other lightweight records) instead of `Event` models.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol, runtime_checkable

from domain.envelope import Actor, Event

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


class Record(NamedTuple):
    """A recorded event as a replay reads it: a `Fact` carrying its time as view text.

    Formatting a datetime per event was a tenth of a replay; `at` is `recorded_at`
    already in the form `timestamp` gives, so folds copy it (see `stamp`). The actor,
    which almost no view reads, stays JSON until asked for.
    """

    position: int
    stream_id: str
    version: int
    type: str
    at: str
    actor_json: str
    data: dict[str, Any]

    @property
    def recorded_at(self) -> datetime:
        return datetime.fromisoformat(self.at)

    @property
    def actor(self) -> Actor:
        return Actor.model_validate_json(self.actor_json)


@dataclass(frozen=True, slots=True)
class StreamRange:
    """The streams whose ids sort in [`low`, `high`); `None` leaves that side open."""

    low: str | None = None
    high: str | None = None

    def __contains__(self, stream_id: object) -> bool:
        return (
            isinstance(stream_id, str)
            and (self.low is None or stream_id >= self.low)
            and (self.high is None or stream_id < self.high)
        )


@runtime_checkable
class RecordLog(Protocol):
    """A log read as `Record`s by position range, optionally only some types and streams.

    Everything at or below `last_position()` is committed and never changes, so reading
    a range up to it twice gives the same records.
    """

    def last_position(self) -> int: ...

    def read_records(
        self,
        after_position: int,
        up_to_position: int,
        types: Collection[str] | None = None,
        streams: StreamRange | None = None,
    ) -> list[Record]: ...


@dataclass(frozen=True, slots=True)
class PositionedEvent:
    """An event with its place in the embedded store's global order."""

    position: int
    event: Event


class EventLog(Protocol):
    """Catch-up reading across all streams (the embedded store's global order)."""

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[PositionedEvent]: ...

    def last_position(self) -> int: ...


# The documents loaded for a batch, and the batch's (key, fact) pairs in log order.
BatchFold = Callable[[Mapping[str, View], Sequence[tuple[str, Fact]]], dict[str, View]]
# Loads the stored documents of one projection: (projection name, keys) -> documents.
Loader = Callable[[str, Collection[str]], dict[str, View]]


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
    # about these only, and reads only these from a `RecordLog`.
    types: frozenset[str] | None = None
    # True when every document is fed by the events of one stream only: then the log
    # can be split by stream between processes that replay it side by side.
    keyed_by_stream: bool = False


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


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """A `ViewBatch` whose documents the store has already encoded into its `rows`."""

    projection: str
    rows: Sequence[Any]
    position: int
    expected_position: int | None = None


class ViewWriter(Protocol):
    def positions(self, projections: Collection[str]) -> dict[str, int]: ...

    def get_many(self, projection: str, keys: Collection[str]) -> dict[str, View]: ...

    def apply_batches(self, batches: Sequence[ViewBatch]) -> None: ...


@runtime_checkable
class EncodingViewWriter(ViewWriter, Protocol):
    """A writer whose writes split into encoding (`encode`) and writing the rows.

    Encoding is CPU work that the processes of a partitioned replay do side by side;
    `apply_encoded` is the one transaction that writes their rows with the positions.
    """

    def encode(
        self, projection: str, documents: Mapping[str, View], partition_field: str | None = None
    ) -> Sequence[Any]: ...

    def apply_encoded(self, batches: Sequence[EncodedBatch]) -> None: ...


@runtime_checkable
class BulkLoading(Protocol):
    """A view store that can fill itself faster while a replay writes into it empty."""

    def bulk_load(self) -> AbstractContextManager[None]: ...


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


def stamp(fact: Fact) -> str:
    """`timestamp(fact.recorded_at)`, which a `Record` carries ready-made."""
    return fact.at if type(fact) is Record else timestamp(fact.recorded_at)


def types_read(projections: Sequence[Projection]) -> frozenset[str] | None:
    """The event types any of `projections` reads, or None if one of them may read any."""
    types: set[str] = set()
    for projection in projections:
        if projection.types is None:
            return None
        types |= projection.types
    return frozenset(types)


@dataclass(frozen=True, slots=True)
class ApplyingEach:
    """The `BatchFold` that applies events one by one: for views with nothing to batch.

    A class rather than a closure, so a partitioned replay can send it to its workers.
    """

    apply: Callable[[View | None, Fact], View]

    def __call__(
        self, views: Mapping[str, View], touched: Sequence[tuple[str, Fact]]
    ) -> dict[str, View]:
        changed: dict[str, View] = {}
        for key, event in touched:
            current = changed.get(key) or views.get(key)
            folded = self.apply(current, event)
            if folded is not current:
                changed[key] = folded
        return changed


def fold_batch(projection: Projection, batch: Sequence[Fact], load: Loader) -> dict[str, View]:
    """Fold a batch into `projection`'s documents; answer the ones it changed."""
    keys_of, types = projection.keys, projection.types
    if types is not None:
        batch = [fact for fact in batch if fact.type in types]
    touched = [(key, fact) for fact in batch for key in keys_of(fact)]
    if not touched:
        return {}
    views = load(projection.name, {key for key, _ in touched})
    if projection.fold is not None:
        return projection.fold(views, touched)
    apply = projection.apply
    changed: dict[str, View] = {}
    for key, fact in touched:
        current = views.get(key)
        folded = apply(current, fact)
        if folded is not current:
            views[key] = folded
            changed[key] = folded
    return changed


@contextmanager
def without_cycle_collection() -> Iterator[None]:
    """Pause the cycle collector while a replay allocates millions of short-lived dicts.

    They keep triggering collections that walk every live batch to find no cycles
    (decoded JSON and view documents have none; reference counting frees them). That
    was a third of the fold's time.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
