"""The one way the command side loads a stream's state: the repository and its cache.

A state is the fold of a prefix of its stream, and streams only grow, so a state known
at version v stays true of the first v events whatever is appended since. Loading a
stream therefore starts from the newest state this process holds (the cache), else from
a snapshot, else from nothing, and folds only the events after it. A decision made on a
state that has gone stale fails its append on the expected version (`services.commands`)
and is made again on a fresher load, so the cache never decides on old facts.

A snapshot is written whenever a state this process folds (on a load or after its own
append) is `snapshot_every` events past the newest snapshot it knows of, so a cold load
anywhere folds at most about that many events. Snapshots are a cache too: deleting every
one changes no answer, only the next load's cost.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import Any, Generic, Protocol, TypeVar

from domain.envelope import GENESIS_HASH, Event, NewEvent
from services.ports import EventStore, Snapshot, SnapshotStore

log = logging.getLogger(__name__)


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


S = TypeVar("S", bound=Versioned)


@dataclass(frozen=True, slots=True)
class Aggregate(Generic[S]):
    """How a kind of stream folds into a state, and (optionally) how that state is kept
    as a snapshot. The functions are the domain's; this only names them together."""

    name: str
    initial: Callable[[str], S]  # the state of an empty stream, from its id
    evolve: Callable[[S, Event], S]
    to_snapshot: Callable[[S], dict[str, Any]] | None = None
    from_snapshot: Callable[[dict[str, Any]], S] | None = None
    shape: int = 1  # of the snapshot's state: bump it when the layout changes


@dataclass(frozen=True, slots=True)
class Loaded(Generic[S]):
    """A stream's state and where it stands: the version and hash its next append
    chains from, and the version of the newest snapshot known to hold it (0: none)."""

    stream_id: str
    state: S
    head_hash: str
    snapshot_version: int = 0

    @property
    def version(self) -> int:
        return self.state.version


class NoSnapshots:
    """For a repository that folds every stream from the log."""

    def get(self, aggregate: str, stream_id: str) -> Snapshot | None:
        return None

    def put(self, snapshot: Snapshot) -> None:
        return None

    def clear(self) -> int:
        return 0


class _Turns:
    """A lock per stream while anyone in this process is writing it, then forgotten."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[threading.Lock, int]] = {}
        self._guard = threading.Lock()

    @contextmanager
    def of(self, stream_id: str) -> Iterator[None]:
        with self._guard:
            lock, waiting = self._held.get(stream_id, (threading.Lock(), 0))
            self._held[stream_id] = (lock, waiting + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                _, waiting = self._held[stream_id]
                if waiting == 1:
                    del self._held[stream_id]
                else:
                    self._held[stream_id] = (lock, waiting - 1)


class Repository:
    """Loads states through one bounded cache; records appended events into it.

    Thread-safe. One per process (the composition root builds it), shared by every
    command of the platform.
    """

    def __init__(
        self,
        store: EventStore,
        snapshots: SnapshotStore | None = None,
        *,
        cache_entries: int = 10_000,
        snapshot_every: int = 100,
    ) -> None:
        if cache_entries < 1 or snapshot_every < 1:
            raise ValueError("cache_entries and snapshot_every must be at least 1")
        self.store = store
        self.snapshots: SnapshotStore = snapshots if snapshots is not None else NoSnapshots()
        self._cache: OrderedDict[tuple[str, str], Loaded[Any]] = OrderedDict()
        self._cache_entries = cache_entries
        self._snapshot_every = snapshot_every
        self._lock = threading.Lock()
        self._turns = _Turns()

    def turn(self, stream_id: str) -> AbstractContextManager[None]:
        """This process's turn to decide on and append to `stream_id`.

        Deciders in one process then take turns instead of racing each other to the
        append and losing (a read, a decision and an append thrown away each time);
        the expected version still settles races with other processes. Not reentrant:
        a decision must not write the stream it is deciding on.
        """
        return self._turns.of(stream_id)

    def load(self, aggregate: Aggregate[S], stream_id: str) -> Loaded[S]:
        """The stream's state now: the cached or snapshot state and the events after it."""
        cached = self.known(aggregate, stream_id)
        if cached is not None:
            return self._fold(
                aggregate, cached, self.store.read_stream(stream_id, cached.version + 1)
            )
        snapshot = self._snapshot(aggregate, stream_id)
        if snapshot is not None:
            # Read from the snapshot's own event: a snapshot the log does not bear out (a
            # log restored from a backup older than the snapshots) is passed over.
            events = self.store.read_stream(stream_id, snapshot.version)
            if events and events[0].hash == snapshot.head_hash:
                return self._fold(aggregate, snapshot, events[1:])
            log.warning("the snapshot of %s disagrees with the log; folding", stream_id)
        return self._fold(
            aggregate, self.empty(aggregate, stream_id), self.store.read_stream(stream_id)
        )

    def append(
        self, aggregate: Aggregate[S], loaded: Loaded[S], events: Sequence[NewEvent]
    ) -> tuple[Loaded[S], list[Event]]:
        """Append `events` at `loaded`'s version: the state they lead to, and the events
        as recorded. Raises `ConcurrencyError` when the stream has moved on."""
        recorded = self.store.append(
            loaded.stream_id, loaded.version, events, head_hash=loaded.head_hash
        )
        if recorded and recorded[0].version != loaded.version + 1:
            # The store answered an append it had made before, further back: the state
            # they lead to is the stream's now, not `loaded` with them folded on.
            return self.load(aggregate, loaded.stream_id), recorded
        return self._fold(aggregate, loaded, recorded), recorded

    def empty(self, aggregate: Aggregate[S], stream_id: str) -> Loaded[S]:
        """The state of the stream before its first event, read from nowhere."""
        return Loaded(stream_id, aggregate.initial(stream_id), GENESIS_HASH)

    def forget(self) -> None:
        """Empty the cache (the next load of each stream starts from a snapshot)."""
        with self._lock:
            self._cache.clear()

    def _fold(self, aggregate: Aggregate[S], start: Loaded[S], events: list[Event]) -> Loaded[S]:
        if not events:
            # Kept even when nothing is new: a stream with no events yet (a department
            # that never set a policy) is then not looked for in the snapshots again.
            self._remember(aggregate, start)
            return start
        state = start.state
        for event in events:
            state = aggregate.evolve(state, event)
        loaded = Loaded(start.stream_id, state, events[-1].hash, start.snapshot_version)
        if loaded.version - loaded.snapshot_version >= self._snapshot_every:
            loaded = self._keep_snapshot(aggregate, loaded)
        self._remember(aggregate, loaded)
        return loaded

    def known(self, aggregate: Aggregate[S], stream_id: str) -> Loaded[S] | None:
        """The newest state of the stream this process holds, read from nowhere: it may be
        stale, so a decision on it is for `execute(..., start=...)`, whose append checks."""
        with self._lock:
            known = self._cache.get((aggregate.name, stream_id))
            if known is not None:
                self._cache.move_to_end((aggregate.name, stream_id))
            return known

    def _remember(self, aggregate: Aggregate[S], loaded: Loaded[S]) -> None:
        key = (aggregate.name, loaded.stream_id)
        with self._lock:
            known = self._cache.get(key)
            # Two threads may fold the same stream; the further one is kept.
            if known is None or known.version < loaded.version:
                self._cache[key] = loaded
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_entries:
                self._cache.popitem(last=False)

    def _snapshot(self, aggregate: Aggregate[S], stream_id: str) -> Loaded[S] | None:
        if aggregate.from_snapshot is None:
            return None
        snapshot = self.snapshots.get(aggregate.name, stream_id)
        if snapshot is None or snapshot.shape != aggregate.shape:
            return None
        state = aggregate.from_snapshot(snapshot.state)
        return Loaded(stream_id, state, snapshot.head_hash, snapshot.version)

    def _keep_snapshot(self, aggregate: Aggregate[S], loaded: Loaded[S]) -> Loaded[S]:
        """`loaded`, now known to be held by a snapshot (unless writing it failed)."""
        if aggregate.to_snapshot is None:
            return loaded
        snapshot = Snapshot(
            aggregate=aggregate.name,
            stream_id=loaded.stream_id,
            shape=aggregate.shape,
            version=loaded.version,
            head_hash=loaded.head_hash,
            state=aggregate.to_snapshot(loaded.state),
        )
        try:
            self.snapshots.put(snapshot)
        except Exception:  # a snapshot is a cache: failing to keep one loses nothing
            log.warning("could not keep a snapshot of %s", loaded.stream_id, exc_info=True)
            return loaded
        return replace(loaded, snapshot_version=loaded.version)
